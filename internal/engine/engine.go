package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"time"

	"conveyor.dev/conveyor/internal/approval"
	"conveyor.dev/conveyor/internal/executor"
	"conveyor.dev/conveyor/internal/secret"
	"conveyor.dev/conveyor/internal/store"
)

// Store is what the engine needs of persistence.
type Store interface {
	CreateRun(ctx context.Context, r *store.Run) error
	UpdateRun(ctx context.Context, id string, fn func(*store.Run) error) error
	AddRunTag(ctx context.Context, id, tag string) error
	UpsertRecord(ctx context.Context, rec store.Record) error
	OpenLog(ctx context.Context, runID, recordID string, attempt int) (store.LogWriter, error)
}

// Executor gives the engine a workspace for each job (executor/local,
// a Kubernetes pod, ...).
type Executor interface {
	StartJob(ctx context.Context, spec executor.JobSpec) (executor.Job, error)
}

// Masker hides secret values in log lines; it must be safe for concurrent
// use.
type Masker interface {
	// Add registers a secret value.
	Add(value string) error
	// Mask returns s with every registered value hidden.
	Mask(s string) string
}

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Observer is told about every state change and (masked) log line of a run,
// in the order they happen; calls come from several goroutines at once
// (one per running job) and must return quickly.
type Observer interface {
	RunChanged(r store.Run)
	RecordChanged(rec store.Record)
	Line(rec store.Record, ts time.Time, text string)
}

// Engine runs plans. Safe for concurrent use by several runs.
type Engine struct {
	store       Store
	exec        Executor
	eval        Evaluator
	clock       Clock
	log         *slog.Logger
	observer    Observer
	newMasker   func() Masker
	maxParallel int
	owner       string
	retryDelay  func(attempt int) time.Duration
	minute      time.Duration
	counters    Counters
	approvals   Approvals
	envs        map[string]approval.Checks
	groups      VariableGroups // groups.go
}

// Option configures an Engine.
type Option func(*Engine) error

// WithEvaluator sets the runtime expression evaluator (conditions other than
// a bare status function, $[ ] variables).
func WithEvaluator(ev Evaluator) Option { return func(e *Engine) error { e.eval = ev; return nil } }

// WithClock sets the clock.
func WithClock(c Clock) Option {
	return func(e *Engine) error {
		if c == nil {
			return fmt.Errorf("engine: nil clock")
		}
		e.clock = c
		return nil
	}
}

// WithLogger sets the logger of the engine's own diagnostics (never step
// output).
func WithLogger(l *slog.Logger) Option { return func(e *Engine) error { e.log = l; return nil } }

// WithObserver sets who is told about progress (the live view).
func WithObserver(o Observer) Option { return func(e *Engine) error { e.observer = o; return nil } }

// WithMasker sets the factory of the per-run log masker.
func WithMasker(f func() Masker) Option { return func(e *Engine) error { e.newMasker = f; return nil } }

// WithMaxParallel bounds how many jobs of a run execute at once (default:
// the number of CPUs, at least 2).
func WithMaxParallel(n int) Option {
	return func(e *Engine) error {
		if n < 1 {
			return fmt.Errorf("engine: max parallel %d: must be at least 1", n)
		}
		e.maxParallel = n
		return nil
	}
}

// WithOwner names the process executing runs, recorded on each run so a
// dead owner's runs can be found ("pid@host").
func WithOwner(owner string) Option { return func(e *Engine) error { e.owner = owner; return nil } }

// WithRetryDelay sets the wait before retry number attempt (1-based) of a
// step with retryCountOnTaskFailure (default: attempt seconds, at most 10).
func WithRetryDelay(f func(attempt int) time.Duration) Option {
	return func(e *Engine) error { e.retryDelay = f; return nil }
}

// WithMinute sets how long a minute of timeoutInMinutes and
// cancelTimeoutInMinutes lasts (tests shorten it; default time.Minute).
func WithMinute(d time.Duration) Option {
	return func(e *Engine) error {
		if d <= 0 {
			return fmt.Errorf("engine: minute %v: must be positive", d)
		}
		e.minute = d
		return nil
	}
}

// WithCounters sets where counter() values are kept across runs (default:
// in memory).
func WithCounters(c Counters) Option {
	return func(e *Engine) error {
		if c == nil {
			return fmt.Errorf("engine: nil counters")
		}
		e.counters = c
		return nil
	}
}

// New returns an engine recording into st and running jobs on ex.
func New(st Store, ex Executor, opts ...Option) (*Engine, error) {
	e := &Engine{
		store:       st,
		exec:        ex,
		clock:       systemClock{},
		log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		observer:    nopObserver{},
		newMasker:   func() Masker { return secret.NewMasker() },
		eval:        &ExprEvaluator{},
		maxParallel: max(2, runtime.NumCPU()),
		owner:       store.LocalOwner(),
		minute:      time.Minute,
		counters:    &memCounters{m: map[string]int64{}},
		retryDelay: func(attempt int) time.Duration {
			return min(time.Duration(attempt)*time.Second, 10*time.Second)
		},
	}
	if st == nil || ex == nil {
		return nil, fmt.Errorf("engine: a store and an executor are required")
	}
	for _, o := range opts {
		if err := o(e); err != nil {
			return nil, err
		}
	}
	return e, nil
}

type nopObserver struct{}

func (nopObserver) RunChanged(store.Run)                 {}
func (nopObserver) RecordChanged(store.Record)           {}
func (nopObserver) Line(store.Record, time.Time, string) {}
