package observe

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"conveyor.dev/conveyor/internal/plan"
	"conveyor.dev/conveyor/internal/store"
)

// OutcomeStore is what the Recorder needs of the store.
type OutcomeStore interface {
	// RecordDeployOutcome stores o (replacing the same run and job's) and
	// assigns o.ID.
	RecordDeployOutcome(ctx context.Context, o *store.DeployOutcome) error
	// FirstRunOfCommit's error wraps store.ErrNotFound when no run has the
	// commit.
	FirstRunOfCommit(ctx context.Context, commit string) (time.Time, error)
}

// Watch starts the post-deploy watch of a succeeded outcome; it must
// return at once.
type Watch interface {
	Watch(o store.DeployOutcome)
}

// Recorder is the engine observer that stores the outcome of every
// deployment job (a job of the plan with an environment) for the DORA
// metrics, counts it in Metrics and starts the post-deploy watch of the
// environments that have one. Writes happen in the background; Close
// waits for them.
type Recorder struct {
	st         OutcomeStore
	metrics    *Metrics
	watch      Watch
	watchFor   func(environment string) time.Duration
	commitTime CommitTimeFunc
	log        *slog.Logger

	mu   sync.Mutex
	runs map[string]*deployRun
	wg   sync.WaitGroup
}

type deployRun struct {
	pipeline, commit, repository string
	envs                         map[string]string // job record ID → environment
}

// RecorderOption configures NewRecorder.
type RecorderOption func(*Recorder)

// WithRecorderMetrics counts outcomes in m (conveyor_deployments_total).
func WithRecorderMetrics(m *Metrics) RecorderOption { return func(r *Recorder) { r.metrics = m } }

// WithPostDeployWatch watches succeeded deploys to the environments for
// which watchFor returns a positive window.
func WithPostDeployWatch(w Watch, watchFor func(environment string) time.Duration) RecorderOption {
	return func(r *Recorder) { r.watch, r.watchFor = w, watchFor }
}

// WithCommitTime reads a change's commit time with f, the start of its
// lead time; without it, or when f fails, the lead time starts at the
// first run of the commit.
func WithCommitTime(f CommitTimeFunc) RecorderOption { return func(r *Recorder) { r.commitTime = f } }

// WithRecorderLogger sets where failed writes are logged (default: none).
func WithRecorderLogger(l *slog.Logger) RecorderOption { return func(r *Recorder) { r.log = l } }

// NewRecorder returns a Recorder writing to st.
func NewRecorder(st OutcomeStore, opts ...RecorderOption) *Recorder {
	r := &Recorder{st: st, log: slog.New(slog.DiscardHandler), runs: map[string]*deployRun{}}
	for _, o := range opts {
		o(r)
	}
	return r
}

// RunChanged learns a running run's deployment jobs from its plan.
func (r *Recorder) RunChanged(run store.Run) {
	switch run.State {
	case store.StateRunning, store.StateWaiting: // a resumed run may start waiting
		r.mu.Lock()
		_, known := r.runs[run.ID]
		r.mu.Unlock()
		if known {
			return
		}
		dr := &deployRun{pipeline: run.Pipeline, commit: run.Commit, repository: run.Repository, envs: deploymentJobs(run.Plan)}
		r.mu.Lock()
		r.runs[run.ID] = dr
		r.mu.Unlock()
	case store.StateCompleted:
		r.mu.Lock()
		delete(r.runs, run.ID)
		r.mu.Unlock()
	}
}

// deploymentJobs maps the record IDs of a plan's deployment jobs to their
// environments.
func deploymentJobs(planJSON []byte) map[string]string {
	var p plan.Plan
	if len(planJSON) == 0 || json.Unmarshal(planJSON, &p) != nil {
		return nil
	}
	envs := map[string]string{}
	for _, st := range p.Stages {
		for _, j := range st.Jobs {
			if j.Kind == plan.KindDeployment && j.Environment != nil && j.Environment.Name != "" {
				envs[st.Name+"."+j.Name] = j.Environment.Name
			}
		}
	}
	return envs
}

// RecordChanged records a finished deployment job.
func (r *Recorder) RecordChanged(rec store.Record) {
	if rec.Type != store.RecordJob || rec.State != store.StateCompleted {
		return
	}
	var status store.DeployStatus
	switch rec.Result {
	case store.ResultSucceeded, store.ResultSucceededWithIssues:
		status = store.DeploySucceeded
	case store.ResultFailed:
		status = store.DeployFailed
	default: // canceled, skipped, interrupted: nothing was decided
		return
	}
	r.mu.Lock()
	dr := r.runs[rec.RunID]
	r.mu.Unlock()
	if dr == nil || dr.envs[rec.ID] == "" {
		return
	}
	o := store.DeployOutcome{Environment: dr.envs[rec.ID], Pipeline: dr.pipeline, RunID: rec.RunID, Job: rec.ID,
		Commit: dr.commit, Status: status, StartedAt: rec.StartedAt, FinishedAt: rec.FinishedAt}
	if o.FinishedAt.IsZero() {
		o.FinishedAt = time.Now().UTC()
	}
	if status == store.DeployFailed {
		o.Reason = "deployment job " + rec.ID + " failed"
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.record(o, dr.repository)
	}()
}

func (r *Recorder) record(o store.DeployOutcome, repository string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if o.Commit != "" && r.commitTime != nil {
		at, err := r.commitTime(ctx, repository, o.Commit)
		if err != nil {
			r.log.Debug("lead time: commit time", slog.String("run", o.RunID), slog.Any("err", err))
		}
		o.CommitAt = at
	}
	if o.Commit != "" && o.CommitAt.IsZero() {
		at, err := r.st.FirstRunOfCommit(ctx, o.Commit)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			r.log.Warn("lead time: find the first run of the commit", slog.String("run", o.RunID), slog.Any("err", err))
		}
		o.CommitAt = at
	}
	var window time.Duration
	if o.Status == store.DeploySucceeded && r.watch != nil && r.watchFor != nil {
		window = r.watchFor(o.Environment)
	}
	if window > 0 {
		o.WatchUntil = o.FinishedAt.Add(window)
	}
	if err := r.st.RecordDeployOutcome(ctx, &o); err != nil {
		r.log.Error("record a deployment outcome", slog.String("run", o.RunID), slog.String("env", o.Environment), slog.Any("err", err))
		return
	}
	if r.metrics != nil {
		r.metrics.DeploymentFinished(o.Environment, o.Pipeline, o.Status)
	}
	if window > 0 {
		r.watch.Watch(o)
	}
}

// Line does nothing.
func (r *Recorder) Line(store.Record, time.Time, string) {}

// Close waits for the outcomes being written.
func (r *Recorder) Close() { r.wg.Wait() }
