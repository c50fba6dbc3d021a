package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"conveyor.dev/conveyor/internal/plan"
	"conveyor.dev/conveyor/internal/store"
)

// inputSaver is a Store that keeps each run's Input, so another process
// can resume the run (store.DB is one).
type inputSaver interface {
	SaveRunInput(ctx context.Context, runID string, input []byte) error
}

// ResumeStore is what Resume needs of the store besides Store
// (store.DB has it).
type ResumeStore interface {
	GetRun(ctx context.Context, id string) (store.Run, error)
	ListRecords(ctx context.Context, runID string) ([]store.Record, error)
	RunInput(ctx context.Context, runID string) ([]byte, error)
}

// Resume continues a run that a stopped process left running or waiting,
// from what the store holds: finished stages and jobs keep their results
// and (non-secret) output variables; a gate waiting on an approval or lock
// waits again on the same one; a job, hook or step that was running is
// marked interrupted and its job runs again once, as the next attempt.
// The run then belongs to this engine (WithOwner). Secret outputs of
// finished jobs, counter values and summaries of the stopped process are
// not kept. Canceling ctx cancels the resumed run.
func (e *Engine) Resume(ctx context.Context, runID string) (*Started, error) {
	rd, ok := e.store.(ResumeStore)
	if !ok {
		return nil, fmt.Errorf("resume run %s: the store cannot read runs back", runID)
	}
	r, err := rd.GetRun(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("resume run %s: %w", runID, err)
	}
	if r.State == store.StateCompleted {
		return nil, fmt.Errorf("resume run %s: it is completed (%s): nothing to resume; rerun it instead", runID, r.Result)
	}
	var p plan.Plan
	if err := json.Unmarshal(r.Plan, &p); err != nil {
		return nil, fmt.Errorf("resume run %s: decode its plan: %w", runID, err)
	}
	in := Input{Pipeline: r.Pipeline, Repository: r.Repository, Commit: r.Commit, Branch: r.Branch, Event: r.Event,
		Variables: r.Variables, Params: r.Params}
	switch b, err := rd.RunInput(ctx, runID); {
	case err == nil:
		if err := json.Unmarshal(b, &in); err != nil {
			return nil, fmt.Errorf("resume run %s: decode its input: %w", runID, err)
		}
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("resume run %s: %w", runID, err)
	}
	recs, err := rd.ListRecords(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("resume run %s: %w", runID, err)
	}
	latest := map[string]store.Record{}
	for _, rec := range recs {
		if old, ok := latest[rec.ID]; !ok || rec.Attempt > old.Attempt {
			latest[rec.ID] = rec
		}
	}
	now := e.clock.Now()
	for id, rec := range latest {
		if rec.Type == store.RecordStage || rec.State != store.StateRunning {
			continue
		}
		rec.State, rec.Result, rec.FinishedAt = store.StateCompleted, store.ResultInterrupted, now
		rec.Issues = append(rec.Issues, store.Issue{Type: store.IssueWarning, Message: "interrupted: the process running it stopped; the run was resumed"})
		rec.WarningCount++
		if err := e.store.UpsertRecord(ctx, rec); err != nil {
			return nil, fmt.Errorf("resume run %s: %w", runID, err)
		}
		latest[id] = rec
	}
	if err := e.store.UpdateRun(ctx, runID, func(x *store.Run) error {
		if x.State == store.StateCompleted {
			return fmt.Errorf("it completed meanwhile")
		}
		x.Owner, x.State = e.owner, store.StateRunning
		r = *x
		return nil
	}); err != nil {
		return nil, fmt.Errorf("resume run %s: %w", runID, err)
	}
	rs := e.newRunState(ctx, &p, in, r)
	for id, rec := range latest {
		cp := rec
		rs.records[id] = &cp
		rs.prior[id] = rec
	}
	return e.launch(ctx, rs), nil
}

// nextAttempt returns the attempt a record of a job run as attempt
// jobAttempt gets: 1 on a first run; on a rerun, one after the attempt a
// resumed run had recorded.
func (rs *runState) nextAttempt(id string, jobAttempt int) int {
	if jobAttempt <= 1 {
		return 1
	}
	if p, ok := rs.prior[id]; ok {
		return p.Attempt + 1
	}
	return 1
}
