package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/forge"
	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/trigger"
)

// Finisher is what the server tells when a run completes: the trigger
// dispatcher, which starts the pipelines whose resources.pipelines
// trigger on it and the push batched behind it.
type Finisher interface {
	Finished(ctx context.Context, run trigger.CompletedRun) (trigger.Outcome, error)
}

// RecordLister reads a run's records and its saved input.
type RecordLister interface {
	ListRecords(ctx context.Context, runID string) ([]store.Record, error)
	RunInput(ctx context.Context, runID string) ([]byte, error)
}

// chainer turns an ended run into the runs it triggers.
type chainer struct {
	fin Finisher
	st  RecordLister
	log *slog.Logger
}

// ended is the runner's end hook.
func (c *chainer) ended(ctx context.Context, e EndedRun) {
	if c.fin == nil || e.RepositoryName == "" {
		return
	}
	requester := e.Requester
	if requester == "" {
		// A run resumed after a restart: its saved input names who asked.
		if b, err := c.st.RunInput(ctx, e.Run.ID); err == nil {
			var in struct{ RequestedFor string }
			if json.Unmarshal(b, &in) == nil {
				requester = in.RequestedFor
			}
		}
	}
	var stages []string
	if recs, err := c.st.ListRecords(ctx, e.Run.ID); err == nil {
		latest := map[string]store.Record{}
		for _, r := range recs {
			if old, ok := latest[r.ID]; r.Type == store.RecordStage && (!ok || r.Attempt > old.Attempt) {
				latest[r.ID] = r
			}
		}
		for _, r := range recs {
			if l, ok := latest[r.ID]; ok && l.Attempt == r.Attempt && (r.Result == store.ResultSucceeded || r.Result == store.ResultSucceededWithIssues) {
				stages = append(stages, r.Name)
			}
		}
	}
	out, err := c.fin.Finished(ctx, trigger.CompletedRun{
		Repository: e.RepositoryName, Pipeline: e.Run.Pipeline, RunID: e.Run.ID, RunName: runName(e.Run),
		Branch: e.Run.Branch, Commit: e.Run.Commit, Result: string(e.Run.Result), Requester: requester,
		Stages: stages, Tags: e.Run.Tags,
	})
	if err != nil {
		c.log.Error("pipelines triggered by a completed run", slog.String("run", e.Run.ID), slog.String("pipeline", e.Run.Pipeline), slog.Any("err", err))
	}
	for _, s := range out.Started {
		c.log.Info("run triggered by a completed run", slog.String("pipeline", s.Pipeline), slog.String("run", s.RunID),
			slog.String("by", e.Run.Pipeline), slog.String("byRun", e.Run.ID))
	}
}

// runName is a run's display name: its build number when the plan set
// one, else its number.
func runName(r store.Run) string {
	if n := r.Variables["Build.BuildNumber"]; n != "" {
		return n
	}
	return strconv.FormatInt(r.Number, 10)
}

// statusReporter posts commit statuses to the forge as runs change state.
// Posts happen on one goroutine, in the order of the changes, so a forge
// never sees success before pending; the engine never waits on a forge.
type statusReporter struct {
	rep   *forge.Reporter
	repos []config.Repository
	log   *slog.Logger
	queue chan forge.Run

	mu   sync.Mutex
	last map[string]string // run → last state posted
}

func newStatusReporter(cfg *config.Config, targetURL func(string) string, log *slog.Logger) *statusReporter {
	return &statusReporter{rep: forge.NewReporter(cfg, targetURL, nil), repos: cfg.Repositories, log: log,
		queue: make(chan forge.Run, 1024), last: map[string]string{}}
}

// run posts queued statuses until ctx ends; then it posts what is queued
// for up to a few seconds more.
func (s *statusReporter) run(ctx context.Context) {
	post := func(r forge.Run) {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		if err := s.rep.RunChanged(pctx, r); err != nil {
			s.log.Warn("commit status", slog.String("run", r.RunID), slog.Any("err", err))
		}
	}
	for {
		select {
		case r := <-s.queue:
			post(r)
		case <-ctx.Done():
			for {
				select {
				case r := <-s.queue:
					post(r)
				default:
					return
				}
			}
		}
	}
}

// RunChanged queues a status when the run's state changed.
func (s *statusReporter) RunChanged(r store.Run) {
	name := ""
	for _, repo := range s.repos {
		if repo.URL == r.Repository && repo.Forge.Type != "" {
			name = repo.Name
		}
	}
	if name == "" || r.Commit == "" {
		return
	}
	s.mu.Lock()
	key := string(r.State) + "/" + string(r.Result)
	if s.last[r.ID] == key {
		s.mu.Unlock()
		return
	}
	if r.State == store.StateCompleted {
		delete(s.last, r.ID)
	} else {
		s.last[r.ID] = key
	}
	s.mu.Unlock()
	select {
	case s.queue <- forge.Run{Repository: name, Pipeline: r.Pipeline, RunID: r.ID, Commit: r.Commit, State: string(r.State), Result: string(r.Result)}:
	default:
		s.log.Warn("commit status dropped: the forge is behind", slog.String("run", r.ID))
	}
}

func (s *statusReporter) RecordChanged(store.Record)           {}
func (s *statusReporter) Line(store.Record, time.Time, string) {}
