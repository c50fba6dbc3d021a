package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/pipeline"
	"conveyor.dev/conveyor/internal/plan"
)

// Canceler cancels runs that a newer event superseded (pr autoCancel). The
// server implements it.
type Canceler interface {
	// CancelPullRequest cancels the queued and running runs of pipeline in
	// repository for pull request number pr, except the run with id except
	// (may be empty), and returns how many it canceled.
	CancelPullRequest(ctx context.Context, repository, pipeline string, pr int, except string) (int, error)
}

// ActiveRuns tells whether a pipeline has a run in progress on a branch,
// for batched CI triggers (trigger.batch). The server implements it.
type ActiveRuns interface {
	// Active reports whether repository's pipeline has a queued or running
	// run for branch (refs/heads/…).
	Active(ctx context.Context, repository, pipeline, branch string) (bool, error)
}

// Outcome says what one event did.
type Outcome struct {
	Duplicate bool      `json:"duplicate,omitempty"` // a replayed delivery: nothing done
	Ignored   string    `json:"ignored,omitempty"`   // why the whole event was ignored
	Started   []Started `json:"started,omitempty"`   // runs started
	Batched   []string  `json:"batched,omitempty"`   // pipelines whose run waits for a running one (batch)
	Skipped   []Skip    `json:"skipped,omitempty"`   // pipelines not started, and why
	Canceled  int       `json:"canceled,omitempty"`  // superseded PR runs canceled
}

// Started is one run an event started.
type Started struct {
	Pipeline string `json:"pipeline"`
	RunID    string `json:"runId"`
}

// Skip is a pipeline an event did not start, with the reason.
type Skip struct {
	Pipeline string `json:"pipeline"`
	Reason   string `json:"reason"`
}

// Dispatcher maps events of the repositories in conveyor.yaml to Requests:
// it reads every pipeline of the repository at the event's commit, applies
// its trigger or pr filter, and starts the runs. Safe for concurrent use.
type Dispatcher struct {
	cfg     *config.Config
	git     *Git
	starter Starter
	o       options

	plans sync.Map // planKey → *plan.Plan or error
	nplan int64
	mu    sync.Mutex // batch decisions
}

type options struct {
	canceler Canceler
	active   ActiveRuns
	state    State
}

// Option configures a Dispatcher.
type Option func(*options) error

// WithCanceler lets the Dispatcher cancel superseded pull-request runs.
// Without one, autoCancel does nothing.
func WithCanceler(c Canceler) Option {
	return func(o *options) error {
		if c == nil {
			return errors.New("trigger canceler: nil")
		}
		o.canceler = c
		return nil
	}
}

// WithActiveRuns lets the Dispatcher batch pushes (trigger.batch) while a
// run is in progress; with state s holding the waiting push. Without it,
// batch: true starts every push at once.
func WithActiveRuns(a ActiveRuns, s State) Option {
	return func(o *options) error {
		if a == nil || s == nil {
			return errors.New("trigger active runs: nil")
		}
		o.active, o.state = a, s
		return nil
	}
}

// NewDispatcher returns a Dispatcher for the repositories of cfg, reading
// them through g and starting runs with s.
func NewDispatcher(cfg *config.Config, g *Git, s Starter, opts ...Option) (*Dispatcher, error) {
	if cfg == nil || g == nil || s == nil {
		return nil, errors.New("trigger dispatcher: config, git and starter are required")
	}
	d := &Dispatcher{cfg: cfg, git: g, starter: s}
	for _, opt := range opts {
		if err := opt(&d.o); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Repositories are the repositories of conveyor.yaml.
func (d *Dispatcher) Repositories() []config.Repository { return d.cfg.Repositories }

// cloneURL is where git fetches repo from: a relative local path resolves
// against the folder of conveyor.yaml.
func (d *Dispatcher) cloneURL(repo config.Repository) string {
	u := repo.URL
	if u != "" && !strings.Contains(u, "://") && !strings.Contains(u, "@") && !filepath.IsAbs(u) && d.cfg.Dir != "" {
		return filepath.Join(d.cfg.Dir, u)
	}
	return u
}

// pipelineNames returns the repository's pipelines sorted by name.
func pipelineNames(repo config.Repository) []string {
	names := make([]string, 0, len(repo.Pipelines))
	for n := range repo.Pipelines {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

type planKey struct{ dir, commit, file, event string }

// maxCachedPlans bounds the plan cache; it is emptied when full.
const maxCachedPlans = 1024

// plan compiles the pipeline file at commit for the event, cached.
func (d *Dispatcher) plan(ctx context.Context, dir, commit, file string, in pipeline.Input) (*plan.Plan, error) {
	k := planKey{dir, commit, file, in.Event}
	if v, ok := d.plans.Load(k); ok {
		if err, isErr := v.(error); isErr {
			return nil, err
		}
		return v.(*plan.Plan), nil
	}
	p, err := pipeline.Compile(d.git.FS(ctx, dir, commit), file, pipeline.Options{Input: in})
	if err != nil && ctx.Err() != nil {
		return nil, err // do not cache a canceled read
	}
	d.mu.Lock()
	if d.nplan >= maxCachedPlans {
		d.plans.Clear()
		d.nplan = 0
	}
	d.nplan++
	d.mu.Unlock()
	if err != nil {
		err = fmt.Errorf("compile %s at %s: %w", file, short(commit), err)
		d.plans.Store(k, err)
		return nil, err
	}
	d.plans.Store(k, p)
	return p, nil
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// Dispatch starts the runs that ev, an event of repo, triggers.
func (d *Dispatcher) Dispatch(ctx context.Context, repo config.Repository, ev Event) (Outcome, error) {
	switch ev.Kind {
	case KindPush:
		return d.push(ctx, repo, ev)
	case KindPullRequest:
		return d.pull(ctx, repo, ev)
	}
	return Outcome{Ignored: "event is neither a push nor a pull request"}, nil
}

func (d *Dispatcher) push(ctx context.Context, repo config.Repository, ev Event) (Outcome, error) {
	if ev.Deleted() {
		return Outcome{Ignored: fmt.Sprintf("push deleted %s", ev.Ref)}, nil
	}
	if !strings.HasPrefix(ev.Ref, "refs/heads/") && !strings.HasPrefix(ev.Ref, "refs/tags/") {
		return Outcome{Ignored: fmt.Sprintf("push to %s: only branches and tags trigger", ev.Ref)}, nil
	}
	dir, err := d.git.Sync(ctx, d.cloneURL(repo), ev.After)
	if err != nil {
		return Outcome{}, fmt.Errorf("repository %s: %w", repo.Name, err)
	}
	changed := ev.ChangedFiles
	if changed == nil && !ev.Created() && hasCommit(ctx, dir, ev.Before) {
		if changed, err = d.git.ChangedFiles(ctx, dir, ev.Before, ev.After, false); err != nil {
			return Outcome{}, fmt.Errorf("repository %s: %w", repo.Name, err)
		}
	}
	if ev.Title == "" || ev.Requester == "" {
		if t, a, err := d.git.CommitInfo(ctx, dir, ev.After); err == nil {
			ev.Title = cmpOr(ev.Title, t)
			ev.Requester = cmpOr(ev.Requester, a)
		}
	}
	var out Outcome
	for _, name := range pipelineNames(repo) {
		file := repo.Pipelines[name]
		p, err := d.plan(ctx, dir, ev.After, file, pipeline.Input{Event: pipeline.EventPush, Branch: ev.Ref})
		if err != nil {
			out.Skipped = append(out.Skipped, Skip{name, err.Error()})
			continue
		}
		if !pipeline.MatchTrigger(p.Triggers.CI, pipeline.TriggerEvent{Ref: ev.Ref, ChangedFiles: changed}) {
			out.Skipped = append(out.Skipped, Skip{name, "trigger filter does not match"})
			continue
		}
		req := Request{
			Repository: repo.Name, Pipeline: name, File: file, Event: pipeline.EventPush,
			Commit: ev.After, Branch: ev.Ref, Title: ev.Title, Requester: ev.Requester,
			Reason: fmt.Sprintf("push to %s by %s", ev.Ref, cmpOr(ev.Requester, "unknown")), DeliveryID: ev.DeliveryID,
			GitDir: dir,
		}
		if p.Triggers.CI != nil && p.Triggers.CI.Batch && d.o.active != nil {
			batched, err := d.batch(ctx, req)
			if err != nil {
				return out, err
			}
			if batched {
				out.Batched = append(out.Batched, name)
				continue
			}
		}
		id, err := d.starter.Start(ctx, req)
		if err != nil {
			return out, fmt.Errorf("start %s for %s: %w", name, ev.Ref, err)
		}
		out.Started = append(out.Started, Started{name, id})
	}
	return out, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func batchKey(repo, pipeline, branch string) string {
	return "batch/" + repo + "/" + pipeline + "/" + branch
}

// batch holds req back when its pipeline has a run in progress on the
// branch: the newest held push replaces an older one, and Finished starts
// it when the run ends.
func (d *Dispatcher) batch(ctx context.Context, req Request) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	active, err := d.o.active.Active(ctx, req.Repository, req.Pipeline, req.Branch)
	if err != nil {
		return false, fmt.Errorf("batch %s: %w", req.Pipeline, err)
	}
	if !active {
		return false, nil
	}
	b, err := json.Marshal(req)
	if err != nil {
		return false, fmt.Errorf("batch %s: %w", req.Pipeline, err)
	}
	if err := d.o.state.PutTriggerState(ctx, batchKey(req.Repository, req.Pipeline, req.Branch), string(b)); err != nil {
		return false, fmt.Errorf("batch %s: %w", req.Pipeline, err)
	}
	return true, nil
}

func (d *Dispatcher) pull(ctx context.Context, repo config.Repository, ev Event) (Outcome, error) {
	switch ev.Action {
	case ActionOpened, ActionSynchronize, ActionReopened, ActionClosed, "ready_for_review":
	default:
		return Outcome{Ignored: fmt.Sprintf("pull request action %q does not trigger", ev.Action)}, nil
	}
	if ev.Commit == "" {
		return Outcome{}, fmt.Errorf("repository %s: pull request %d: no head commit in the payload", repo.Name, ev.Number)
	}
	dir, err := d.git.Sync(ctx, d.cloneURL(repo), ev.Commit)
	if err != nil {
		return Outcome{}, fmt.Errorf("repository %s: pull request %d: %w", repo.Name, ev.Number, err)
	}
	base := ev.BaseCommit
	if base == "" || !hasCommit(ctx, dir, base) {
		base = ev.TargetBranch
	}
	changed, err := d.git.ChangedFiles(ctx, dir, base, ev.Commit, true)
	if err != nil {
		changed = nil // unknown: path filters pass
	}
	var out Outcome
	for _, name := range pipelineNames(repo) {
		file := repo.Pipelines[name]
		in := pipeline.Input{Event: pipeline.EventPR, Branch: ev.SourceBranch, TargetBranch: ev.TargetBranch, PullRequest: ev.Number}
		p, err := d.plan(ctx, dir, ev.Commit, file, in)
		if err != nil {
			out.Skipped = append(out.Skipped, Skip{name, err.Error()})
			continue
		}
		f := p.Triggers.PR
		if !pipeline.MatchTrigger(f, pipeline.TriggerEvent{Ref: ev.TargetBranch, ChangedFiles: changed, Draft: ev.Draft, PR: true}) {
			out.Skipped = append(out.Skipped, Skip{name, "pr filter does not match"})
			continue
		}
		autoCancel := f == nil || f.AutoCancel == nil || *f.AutoCancel
		if ev.Action == ActionClosed {
			if autoCancel && d.o.canceler != nil {
				n, err := d.o.canceler.CancelPullRequest(ctx, repo.Name, name, ev.Number, "")
				if err != nil {
					return out, fmt.Errorf("cancel runs of pull request %d: %w", ev.Number, err)
				}
				out.Canceled += n
			}
			continue
		}
		req := Request{
			Repository: repo.Name, Pipeline: name, File: file, Event: pipeline.EventPR,
			Commit: ev.Commit, Branch: ev.SourceBranch, TargetBranch: ev.TargetBranch, PullRequest: ev.Number,
			Title: ev.Title, Requester: ev.Requester, DeliveryID: ev.DeliveryID,
			Reason: fmt.Sprintf("pull request %d %s by %s", ev.Number, ev.Action, cmpOr(ev.Requester, "unknown")),
			GitDir: dir,
		}
		id, err := d.starter.Start(ctx, req)
		if err != nil {
			return out, fmt.Errorf("start %s for pull request %d: %w", name, ev.Number, err)
		}
		out.Started = append(out.Started, Started{name, id})
		if autoCancel && d.o.canceler != nil {
			n, err := d.o.canceler.CancelPullRequest(ctx, repo.Name, name, ev.Number, id)
			if err != nil {
				return out, fmt.Errorf("cancel superseded runs of pull request %d: %w", ev.Number, err)
			}
			out.Canceled += n
		}
	}
	if ev.Action == ActionClosed && out.Canceled == 0 && len(out.Skipped) == 0 {
		out.Ignored = "pull request closed"
	}
	return out, nil
}
