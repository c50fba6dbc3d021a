package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/engine"
	"conveyor.dev/conveyor/internal/forge"
	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/trigger"
)

// StatusReporter reports a run's state to the forge hosting its commit
// (forge.Reporter).
type StatusReporter interface {
	RunChanged(ctx context.Context, run forge.Run) error
}

// Completions starts what a completed run triggers: resources.pipelines
// completion triggers and pushes batched behind the run
// (trigger.Dispatcher).
type Completions interface {
	Finished(ctx context.Context, run trigger.CompletedRun) (trigger.Outcome, error)
}

// FollowUpStore is what follow-ups read of a run, and where they note
// which completed runs they handled.
type FollowUpStore interface {
	ListRuns(ctx context.Context, f store.RunFilter) ([]store.Run, error)
	ListRecords(ctx context.Context, runID string) ([]store.Record, error)
	RunInput(ctx context.Context, runID string) ([]byte, error)
	trigger.State
}

// Trigger state keys of the follow-ups: since when completed runs are
// followed up, and which were.
const (
	followSinceKey   = "followups/since"
	followDonePrefix = "followups/done/"
)

// followUps is the engine observer that does, apart from the engine's
// goroutines and in the order the runs changed, what a run's change
// causes outside the engine: the commit status on the forge, and on
// completion the runs it triggers. Safe for concurrent use.
type followUps struct {
	st          FollowUpStore
	repos       []config.Repository
	reporter    StatusReporter // nil: no statuses
	completions Completions    // nil: no completion triggers
	log         *slog.Logger

	mu       sync.Mutex
	queue    []store.Run
	wake     chan struct{}
	reported map[string]string // run → the last status sent
}

func newFollowUps(st FollowUpStore, repos []config.Repository, log *slog.Logger) *followUps {
	return &followUps{st: st, repos: repos, log: log, wake: make(chan struct{}, 1), reported: map[string]string{}}
}

func (f *followUps) RunChanged(r store.Run) {
	r.Plan = nil // not needed; keeps the queue small
	f.mu.Lock()
	f.queue = append(f.queue, r)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *followUps) RecordChanged(store.Record)           {}
func (f *followUps) Line(store.Record, time.Time, string) {}

func (f *followUps) next() (store.Run, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queue) == 0 {
		return store.Run{}, false
	}
	r := f.queue[0]
	f.queue[0] = store.Run{}
	f.queue = f.queue[1:]
	return r, true
}

// run handles changes until ctx ends, then what is queued until drain
// ends.
func (f *followUps) run(ctx, drain context.Context) {
	for {
		if r, ok := f.next(); ok {
			hctx := ctx
			if ctx.Err() != nil {
				if drain.Err() != nil {
					return
				}
				hctx = drain
			}
			f.handle(hctx, r)
			continue
		}
		if ctx.Err() != nil {
			return
		}
		select {
		case <-f.wake:
		case <-ctx.Done():
		}
	}
}

func (f *followUps) handle(ctx context.Context, r store.Run) {
	repo := f.repositoryName(ctx, r)
	if f.reporter != nil {
		f.report(ctx, repo, r)
	}
	if r.State != store.StateCompleted {
		return
	}
	f.mu.Lock()
	delete(f.reported, r.ID)
	f.mu.Unlock()
	if f.completions == nil || repo == "" {
		return
	}
	if _, handled, err := f.st.GetTriggerState(ctx, followDonePrefix+r.ID); err != nil || handled {
		return // a run resumed and completed again, or seen at the start
	}
	done, err := f.completed(ctx, repo, r)
	if err != nil {
		f.log.Error("completion triggers", slog.String("run", r.ID), slog.Any("err", err))
		return
	}
	out, err := f.completions.Finished(ctx, done)
	for _, s := range out.Started {
		f.log.Info("run triggered by a completed run", slog.String("run", s.RunID), slog.String("pipeline", s.Pipeline), slog.String("by", r.ID))
	}
	if err != nil {
		f.log.Error("completion triggers", slog.String("run", r.ID), slog.Any("err", err))
		if ctx.Err() != nil && len(out.Started) == 0 {
			return // the server stopped: the next start tries again
		}
	}
	// Noted once the runs it triggers exist: a server killed in between
	// starts them again at its next start rather than never.
	if err := f.st.PutTriggerState(context.WithoutCancel(ctx), followDonePrefix+r.ID, time.Now().UTC().Format(time.RFC3339)); err != nil {
		f.log.Error("completion triggers", slog.String("run", r.ID), slog.Any("err", err))
	}
}

// recoverMissed queues the runs that completed while no follow-up was
// done for them (the server was killed before it could): the completed
// runs among the latest that finished since follow-ups were first noted
// and that are not noted as handled.
func (f *followUps) recoverMissed(ctx context.Context) error {
	since, ok, err := f.st.GetTriggerState(ctx, followSinceKey)
	if err != nil {
		return err
	}
	if !ok {
		// The first start that notes follow-ups: older runs were handled
		// by whatever ran before.
		return f.st.PutTriggerState(ctx, followSinceKey, time.Now().UTC().Format(time.RFC3339Nano))
	}
	from, err := time.Parse(time.RFC3339Nano, since)
	if err != nil {
		return fmt.Errorf("trigger state %s %q: %w", followSinceKey, since, err)
	}
	runs, err := f.st.ListRuns(ctx, store.RunFilter{State: store.StateCompleted, Limit: 200})
	if err != nil {
		return err
	}
	for i := len(runs) - 1; i >= 0; i-- { // oldest first
		r := runs[i]
		if r.FinishedAt.Before(from) {
			continue
		}
		if _, handled, err := f.st.GetTriggerState(ctx, followDonePrefix+r.ID); err != nil {
			return err
		} else if !handled {
			f.log.Info("following up a run that completed before the server stopped", slog.String("run", r.ID))
			f.RunChanged(r)
		}
	}
	return nil
}

// report sends the run's status unless the same was sent last.
func (f *followUps) report(ctx context.Context, repo string, r store.Run) {
	key := string(forge.StatusOf(string(r.State), string(r.Result))) + "/" + string(r.State) + "/" + string(r.Result)
	f.mu.Lock()
	same := f.reported[r.ID] == key
	f.reported[r.ID] = key
	f.mu.Unlock()
	if same || repo == "" {
		return
	}
	err := f.reporter.RunChanged(ctx, forge.Run{Repository: repo, Pipeline: r.Pipeline, RunID: r.ID, Commit: r.Commit,
		State: string(r.State), Result: string(r.Result)})
	if err != nil {
		f.log.Warn("commit status", slog.String("run", r.ID), slog.Any("err", err))
	}
}

// repositoryName is the conveyor.yaml name of the run's repository: the
// one whose URL the run has, else the name the run was started with.
func (f *followUps) repositoryName(ctx context.Context, r store.Run) string {
	for _, repo := range f.repos {
		if repo.URL == r.Repository {
			return repo.Name
		}
	}
	in, err := f.input(ctx, r.ID)
	if err != nil {
		return ""
	}
	return in.RepositoryName
}

func (f *followUps) input(ctx context.Context, runID string) (engine.Input, error) {
	return readRunInput(ctx, f.st, runID)
}

// readRunInput decodes what started the run runID (the engine's input:
// who asked for it, its event, its resources).
func readRunInput(ctx context.Context, st interface {
	RunInput(ctx context.Context, runID string) ([]byte, error)
}, runID string) (engine.Input, error) {
	var in engine.Input
	b, err := st.RunInput(ctx, runID)
	if err != nil {
		return in, err
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return in, fmt.Errorf("input of run %s: %w", runID, err)
	}
	return in, nil
}

// completed describes r for the completion triggers: who it was requested
// for (the requester of the runs it triggers) and its successful stages.
func (f *followUps) completed(ctx context.Context, repo string, r store.Run) (trigger.CompletedRun, error) {
	in, err := f.input(ctx, r.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return trigger.CompletedRun{}, err
	}
	recs, err := f.st.ListRecords(ctx, r.ID)
	if err != nil {
		return trigger.CompletedRun{}, err
	}
	latest := map[string]store.Record{}
	for _, rec := range recs {
		if rec.Type != store.RecordStage {
			continue
		}
		if old, ok := latest[rec.ID]; !ok || rec.Attempt > old.Attempt {
			latest[rec.ID] = rec
		}
	}
	var stages []string
	for _, rec := range latest {
		if rec.Result == store.ResultSucceeded || rec.Result == store.ResultSucceededWithIssues {
			stages = append(stages, rec.Name)
		}
	}
	branch := r.Branch
	if branch != "" && !strings.HasPrefix(branch, "refs/") {
		branch = "refs/heads/" + branch
	}
	return trigger.CompletedRun{Repository: repo, Pipeline: r.Pipeline, RunID: r.ID, RunName: runName(r),
		Branch: branch, Commit: r.Commit, Result: string(r.Result), Requester: in.RequestedFor, Stages: stages, Tags: r.Tags}, nil
}

// runName is a run's display name: its build number when the plan set
// one, else its number.
func runName(r store.Run) string {
	if n := r.Variables["Build.BuildNumber"]; n != "" {
		return n
	}
	return strconv.FormatInt(r.Number, 10)
}
