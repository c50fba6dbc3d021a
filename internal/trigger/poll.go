package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"conveyor.dev/conveyor/internal/config"
)

// Ticker delivers ticks until stopped; time.Ticker adapted by RealTicker.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// NewTickerFunc makes a Ticker firing every d.
type NewTickerFunc func(d time.Duration) Ticker

// RealTicker is a NewTickerFunc backed by time.NewTicker.
func RealTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

// Poller watches repositories without webhooks: every repository's Poll
// interval it lists the remote's refs with git ls-remote and dispatches a
// push event for each branch or tag that moved since the last look. The
// refs seen are kept in State, so a restart does not start runs twice. The
// first look at a repository only records its refs.
type Poller struct {
	d         *Dispatcher
	state     State
	newTicker NewTickerFunc
	// OnPoll, when set, is called after every poll of a repository with
	// its outcome (for logs and tests).
	OnPoll func(repo string, out Outcome, err error)
}

// NewPoller returns a Poller dispatching through d, keeping refs in state,
// ticking with newTicker (RealTicker in production).
func NewPoller(d *Dispatcher, state State, newTicker NewTickerFunc) *Poller {
	return &Poller{d: d, state: state, newTicker: newTicker}
}

func pollKey(repo string) string { return "poll/" + repo }

// Poll looks at repo once and dispatches what moved.
func (p *Poller) Poll(ctx context.Context, repo config.Repository) (Outcome, error) {
	url := p.d.cloneURL(repo)
	refs, err := p.d.git.LsRemote(ctx, url)
	if err != nil {
		return Outcome{}, fmt.Errorf("poll %s: %w", repo.Name, err)
	}
	seen := map[string]string{}
	v, had, err := p.state.GetTriggerState(ctx, pollKey(repo.Name))
	if err != nil {
		return Outcome{}, fmt.Errorf("poll %s: %w", repo.Name, err)
	}
	if had {
		if err := json.Unmarshal([]byte(v), &seen); err != nil {
			return Outcome{}, fmt.Errorf("poll %s: stored refs: %w", repo.Name, err)
		}
	}
	var out Outcome
	if !had {
		return out, p.save(ctx, repo.Name, refs)
	}
	names := make([]string, 0, len(refs))
	for ref := range refs {
		names = append(names, ref)
	}
	sort.Strings(names)
	for _, ref := range names {
		sha := refs[ref]
		if seen[ref] == sha || !(strings.HasPrefix(ref, "refs/heads/") || strings.HasPrefix(ref, "refs/tags/")) {
			continue
		}
		ev := Event{Provider: "poll", Kind: KindPush, Repo: RepoRef{FullName: repo.Name}, Ref: ref,
			Before: cmpOr(seen[ref], strings.Repeat("0", 40)), After: sha, Commit: sha}
		o, err := p.d.Dispatch(ctx, repo, ev)
		out.Started = append(out.Started, o.Started...)
		out.Batched = append(out.Batched, o.Batched...)
		out.Skipped = append(out.Skipped, o.Skipped...)
		if err != nil {
			return out, fmt.Errorf("poll %s: %w", repo.Name, err)
		}
		// Record each ref once dispatched, so a later failure does not
		// start this one again.
		seen[ref] = sha
		if err := p.save(ctx, repo.Name, seen); err != nil {
			return out, err
		}
	}
	for ref := range seen {
		if _, ok := refs[ref]; !ok {
			delete(seen, ref)
		}
	}
	return out, p.save(ctx, repo.Name, seen)
}

func (p *Poller) save(ctx context.Context, repo string, refs map[string]string) error {
	b, err := json.Marshal(refs)
	if err != nil {
		return fmt.Errorf("poll %s: %w", repo, err)
	}
	if err := p.state.PutTriggerState(ctx, pollKey(repo), string(b)); err != nil {
		return fmt.Errorf("poll %s: %w", repo, err)
	}
	return nil
}

// Run polls every repository with a Poll interval until ctx ends, each on
// its own ticker, once at start and then on every tick. It returns ctx's
// error. Poll errors go to OnPoll and do not stop the loop.
func (p *Poller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, repo := range p.d.Repositories() {
		if repo.Poll <= 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := p.newTicker(repo.Poll)
			defer t.Stop()
			for {
				out, err := p.Poll(ctx, repo)
				if p.OnPoll != nil && !errors.Is(err, context.Canceled) {
					p.OnPoll(repo.Name, out, err)
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C():
				}
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}
