package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"

	"conveyor.dev/conveyor/internal/plan"
	"conveyor.dev/conveyor/internal/store"
)

// Input is what starts a run besides the plan: where the code comes from and
// what the user asked for.
type Input struct {
	// Pipeline is the pipeline's name (Build.DefinitionName).
	Pipeline string
	// Repository is the clone URL or local path of the self repository.
	Repository string
	// RepositoryName is Build.Repository.Name; default: the last element of
	// Repository.
	RepositoryName string
	// Commit is the full commit id the run builds.
	Commit string
	// CommitMessage is the commit's message (Build.SourceVersionMessage
	// gets its first line, at most 200 characters).
	CommitMessage string
	// Branch is the source branch, short ("main") or full ("refs/heads/main").
	Branch string
	// Event is push, pr, manual, schedule or pipeline.
	Event store.Event
	// TargetBranch is the target of a pull request.
	TargetBranch string
	// PullRequestID is the pull request's number; 0 for a local PR run.
	PullRequestID int
	// Variables are queue-time variables; they override the plan's unless
	// those are read-only.
	Variables map[string]string
	// Params are the parameters as given (recorded on the run).
	Params map[string]string
	// RequestedFor and RequestedForEmail name who asked for the run.
	RequestedFor, RequestedForEmail string
	// Project is System.TeamProject; default: the repository name.
	Project string
}

// Outcome is the end of a run.
type Outcome struct {
	RunID  string
	Number int64
	Result store.Result
	// Summaries are the texts added by tasks and ##vso[task.uploadsummary].
	Summaries []string
}

// jobInfo is what later jobs and stages may read of a finished job.
type jobInfo struct {
	Result  store.Result
	Outputs map[string]string // "step.var" (and deployment aliases) → value
}

// runState is the shared state of one run.
type runState struct {
	e        *Engine
	ctx      context.Context // canceled when the run is canceled
	plan     *plan.Plan
	in       Input
	run      store.Run
	canceled func() bool

	mu        sync.Mutex
	masker    Masker
	stages    map[string]store.Result
	stageJobs map[string]map[string]jobInfo // stage → job → info
	summaries []string
	records   map[string]*store.Record
	sem       chan struct{}
	legSems   map[string]chan struct{}
	// buildNumberSet is the build number set by ##vso[build.updatebuildnumber].
	buildNumberSet string
	// counterValues are this run's counter() values by prefix.
	counterValues map[string]int64
	// prior holds the latest record of each ID stored before a Resume.
	prior map[string]store.Record
	// waiting counts the gates waiting on checks.
	waiting int
}

// Run executes p to its end and returns the run's outcome. Canceling ctx
// cancels the run: running steps get SIGTERM, jobs and steps whose
// conditions allow it (always(), canceled()) still run, and the result is
// canceled. The error reports an infrastructure failure of the store only;
// a failed run is an Outcome with Result failed.
func (e *Engine) Run(ctx context.Context, p *plan.Plan, in Input) (*Outcome, error) {
	st, err := e.Start(ctx, p, in)
	if err != nil {
		return nil, err
	}
	return st.Wait(), nil
}

// Started is a run that has been created and is executing.
type Started struct {
	RunID  string
	Number int64
	done   chan struct{}
	out    *Outcome
}

// Wait blocks until the run ends and returns its outcome.
func (s *Started) Wait() *Outcome { <-s.done; return s.out }

// Start creates the run in the store and executes it in the background.
func (e *Engine) Start(ctx context.Context, p *plan.Plan, in Input) (*Started, error) {
	planJSON, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("run %s: encode plan: %w", in.Pipeline, err)
	}
	if in.Event == "" {
		in.Event = store.EventManual
	}
	if in.Pipeline == "" {
		in.Pipeline = strings.TrimSuffix(p.File, ".yml")
	}
	now := e.clock.Now()
	r := store.Run{
		Pipeline:   in.Pipeline,
		File:       p.File,
		Repository: in.Repository,
		Commit:     in.Commit,
		Branch:     in.Branch,
		Event:      in.Event,
		Reason:     buildReason(in.Event),
		State:      store.StateRunning,
		Params:     in.Params,
		Variables:  in.Variables,
		Plan:       planJSON,
		Owner:      e.owner,
		CreatedAt:  now,
		StartedAt:  now,
	}
	if err := e.store.CreateRun(ctx, &r); err != nil {
		return nil, fmt.Errorf("run %s: %w", in.Pipeline, err)
	}
	if sv, ok := e.store.(inputSaver); ok {
		b, err := json.Marshal(in)
		if err == nil {
			err = sv.SaveRunInput(ctx, r.ID, b)
		}
		if err != nil {
			return nil, fmt.Errorf("run %s: save input: %w", in.Pipeline, err)
		}
	}
	return e.launch(ctx, e.newRunState(ctx, p, in, r)), nil
}

func (e *Engine) newRunState(ctx context.Context, p *plan.Plan, in Input, r store.Run) *runState {
	rs := &runState{
		e: e, ctx: ctx, plan: p, in: in, run: r,
		masker:    e.newMasker(),
		stages:    map[string]store.Result{},
		stageJobs: map[string]map[string]jobInfo{},
		records:   map[string]*store.Record{},
		prior:     map[string]store.Record{},
		sem:       make(chan struct{}, e.maxParallel),
		legSems:   map[string]chan struct{}{},

		counterValues: map[string]int64{},
	}
	rs.canceled = func() bool { return ctx.Err() != nil }
	return rs
}

// launch executes rs in the background.
func (e *Engine) launch(ctx context.Context, rs *runState) *Started {
	e.observer.RunChanged(rs.run)
	s := &Started{RunID: rs.run.ID, Number: rs.run.Number, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.out = rs.execute()
	}()
	return s
}

func buildReason(ev store.Event) string {
	switch ev {
	case store.EventPush:
		return "IndividualCI"
	case store.EventPR:
		return "PullRequest"
	case store.EventSchedule:
		return "Schedule"
	case store.EventPipeline:
		return "ResourceTrigger"
	}
	return "Manual"
}

// execute runs the stages by their dependency graph and records the end.
func (rs *runState) execute() *Outcome {
	// Every record exists from the start, queued, so viewers see the tree.
	// A resumed run has them already.
	for si, st := range rs.plan.Stages {
		if _, ok := rs.prior[st.Name]; !ok {
			rs.putRecord(store.Record{ID: st.Name, Type: store.RecordStage, Name: st.Name, DisplayName: orName(st.DisplayName, st.Name), Order: si + 1, State: store.StateQueued})
		}
		for ji, j := range st.Jobs {
			jid := st.Name + "." + j.Name
			if _, ok := rs.prior[jid]; !ok {
				rs.putRecord(store.Record{ID: jid, ParentID: st.Name, Type: store.RecordJob, Name: j.Name, DisplayName: orName(j.DisplayName, j.Name), Order: ji + 1, State: store.StateQueued})
			}
		}
	}
	type done struct {
		name   string
		result store.Result
	}
	ch := make(chan done)
	pending := map[string]plan.Stage{}
	for _, st := range rs.plan.Stages {
		pending[st.Name] = st
	}
	running := 0
	for len(pending) > 0 || running > 0 {
		var ready []plan.Stage
		for _, st := range rs.plan.Stages {
			if _, ok := pending[st.Name]; !ok {
				continue
			}
			rs.mu.Lock()
			ok := true
			for _, d := range st.DependsOn {
				if _, fin := rs.stages[d]; !fin {
					ok = false
				}
			}
			rs.mu.Unlock()
			if ok {
				ready = append(ready, st)
			}
		}
		for _, st := range ready {
			delete(pending, st.Name)
			running++
			go func(st plan.Stage) { ch <- done{st.Name, rs.runStage(st)} }(st)
		}
		if running == 0 {
			// What is left waits on stages that never finish: a cycle or
			// an unknown name the compiler let through.
			for _, st := range rs.plan.Stages {
				if _, ok := pending[st.Name]; ok {
					rs.finishSkipped(st, fmt.Sprintf("stage %s depends on stages that cannot run: %s", st.Name, strings.Join(st.DependsOn, ", ")), store.ResultFailed)
					rs.mu.Lock()
					rs.stages[st.Name] = store.ResultFailed
					rs.mu.Unlock()
					delete(pending, st.Name)
				}
			}
			break
		}
		d := <-ch
		running--
		rs.mu.Lock()
		rs.stages[d.name] = d.result
		rs.mu.Unlock()
	}
	result := rs.runResult()
	fin := rs.e.clock.Now()
	ctx := context.WithoutCancel(rs.ctx)
	if result == store.ResultCanceled && rs.e.approvals != nil {
		if err := rs.e.approvals.Cancel(ctx, rs.run.ID, "the run was canceled"); err != nil {
			rs.e.log.Error("cancel approvals", slog.String("run", rs.run.ID), slog.Any("err", err))
		}
	}
	if err := rs.e.store.UpdateRun(ctx, rs.run.ID, func(r *store.Run) error {
		r.State, r.Result, r.FinishedAt = store.StateCompleted, result, fin
		rs.run = *r
		return nil
	}); err != nil {
		rs.e.log.Error("record run end", slog.String("run", rs.run.ID), slog.Any("err", err))
	}
	rs.run.State, rs.run.Result, rs.run.FinishedAt = store.StateCompleted, result, fin
	rs.e.observer.RunChanged(rs.run)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return &Outcome{RunID: rs.run.ID, Number: rs.run.Number, Result: result, Summaries: rs.summaries}
}

// runResult combines the stage results into the run's.
func (rs *runState) runResult() store.Result {
	if rs.canceled() {
		return store.ResultCanceled
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	res := store.ResultSucceeded
	for _, r := range rs.stages {
		switch r {
		case store.ResultFailed:
			return store.ResultFailed
		case store.ResultCanceled:
			res = store.ResultCanceled
		case store.ResultSucceededWithIssues:
			if res == store.ResultSucceeded {
				res = r
			}
		}
	}
	return res
}

// combine folds job (or stage) results into their parent's result.
func combine(results []store.Result) store.Result {
	if len(results) == 0 {
		return store.ResultSkipped
	}
	out := store.ResultSkipped
	rank := map[store.Result]int{store.ResultSkipped: 0, store.ResultSucceeded: 1, store.ResultSucceededWithIssues: 2, store.ResultCanceled: 3, store.ResultFailed: 4}
	allSkipped := true
	for _, r := range results {
		if r != store.ResultSkipped {
			allSkipped = false
		}
		if rank[r] > rank[out] {
			out = r
		}
	}
	if allSkipped {
		return store.ResultSkipped
	}
	return out
}

// ancestors returns every direct and indirect dependency of name in graph.
func ancestors(name string, deps map[string][]string) []string {
	seen := map[string]bool{}
	var walk func(n string)
	walk = func(n string) {
		for _, d := range deps[n] {
			if !seen[d] {
				seen[d] = true
				walk(d)
			}
		}
	}
	walk(name)
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// runStage evaluates a stage's condition, runs the checks of the
// environments it deploys to and runs its jobs.
func (rs *runState) runStage(st plan.Stage) store.Result {
	// A stage a resumed run had finished keeps its result and outputs.
	if p, ok := rs.prior[st.Name]; ok && p.State == store.StateCompleted {
		results, infos := map[string]store.Result{}, map[string]jobInfo{}
		for _, j := range st.Jobs {
			jp := rs.prior[st.Name+"."+j.Name]
			results[j.Name], infos[j.Name] = jp.Result, jobInfo{Result: jp.Result, Outputs: jp.Outputs}
		}
		rs.publishJobs(st, results, infos)
		return p.Result
	}
	if strings.EqualFold(st.Trigger, "manual") {
		// "Stages": a manually triggered stage does not run with the rest of
		// the pipeline; stages that depend on it are skipped by their
		// default condition.
		rs.finishStage(st, store.ResultSkipped, &store.Issue{Type: store.IssueWarning,
			Message: fmt.Sprintf("stage %s has trigger: manual, so it does not start with the run; remove trigger: manual to run it automatically", st.Name)})
		return store.ResultSkipped
	}
	deps := map[string][]string{}
	for _, s := range rs.plan.Stages {
		deps[s.Name] = s.DependsOn
	}
	rs.mu.Lock()
	g := &graphStatus{results: map[string]store.Result{}, all: ancestors(st.Name, deps), canceled: rs.canceled()}
	for k, v := range rs.stages {
		g.results[k] = v
	}
	depMap := map[string]any{}
	for _, d := range st.DependsOn {
		outs := map[string]any{}
		for job, info := range rs.stageJobs[d] {
			for k, v := range info.Outputs {
				outs[job+"."+k] = v
			}
		}
		depMap[d] = map[string]any{"result": depResult(rs.stages[d]), "outputs": outs}
	}
	rs.mu.Unlock()
	scope := &Scope{Dependencies: depMap, Status: g.status, StartTime: rs.run.CreatedAt}
	scope.Variables = rs.stageVariables(st, scope).values(true)
	ok, err := evalCondition(rs.e.eval, st.Condition, scope)
	if err != nil {
		rs.finishSkipped(st, err.Error(), store.ResultFailed)
		return store.ResultFailed
	}
	if !ok {
		rs.finishSkipped(st, "", store.ResultSkipped)
		return store.ResultSkipped
	}
	rec := rs.record(st.Name)
	rec.State = store.StateRunning
	if rec.StartedAt.IsZero() {
		rec.StartedAt = rs.e.clock.Now()
	}
	rs.putRecord(rec)

	if envs := rs.stageEnvironments(st); len(envs) > 0 {
		res, msg, locked := rs.stageChecks(st, envs)
		if len(locked) > 0 {
			defer rs.unlock(locked, st.Name)
		}
		if res != "" {
			rs.finishSkipped(st, msg, res)
			return res
		}
	}

	results := rs.runJobs(st)
	var all []store.Result
	for _, j := range st.Jobs {
		all = append(all, results[j.Name])
	}
	res := combine(all)
	if res == store.ResultSkipped && len(st.Jobs) > 0 {
		// A stage whose jobs all skipped ran and had nothing to do.
		res = store.ResultSkipped
	}
	rec = rs.record(st.Name)
	rec.State, rec.Result, rec.FinishedAt = store.StateCompleted, res, rs.e.clock.Now()
	rs.putRecord(rec)
	return res
}

// finishSkipped marks a stage that does not run, and its jobs, with result
// (skipped, or failed when its condition could not be evaluated).
func (rs *runState) finishSkipped(st plan.Stage, msg string, result store.Result) {
	var is *store.Issue
	if msg != "" {
		is = &store.Issue{Type: store.IssueError, Message: msg}
	}
	rs.finishStage(st, result, is)
}

// finishStage ends a stage that does not run its jobs, with an optional
// issue; its jobs are skipped.
func (rs *runState) finishStage(st plan.Stage, result store.Result, is *store.Issue) {
	now := rs.e.clock.Now()
	rec := rs.record(st.Name)
	rec.State, rec.Result, rec.FinishedAt = store.StateCompleted, result, now
	if is != nil {
		rec.Issues = append(rec.Issues, *is)
		if is.Type == store.IssueError {
			rec.ErrorCount++
		} else {
			rec.WarningCount++
		}
	}
	rs.putRecord(rec)
	for _, j := range st.Jobs {
		jr := rs.record(st.Name + "." + j.Name)
		jr.State, jr.Result, jr.FinishedAt = store.StateCompleted, store.ResultSkipped, now
		rs.putRecord(jr)
	}
	rs.mu.Lock()
	rs.stageJobs[st.Name] = map[string]jobInfo{}
	for _, j := range st.Jobs {
		rs.stageJobs[st.Name][j.Name] = jobInfo{Result: store.ResultSkipped}
	}
	rs.mu.Unlock()
}

// runJobs runs a stage's jobs by their dependency graph, in parallel.
func (rs *runState) runJobs(st plan.Stage) map[string]store.Result {
	results := map[string]store.Result{}
	infos := map[string]jobInfo{}
	type done struct {
		name string
		info jobInfo
	}
	ch := make(chan done)
	pending := map[string]bool{}
	for _, j := range st.Jobs {
		pending[j.Name] = true
	}
	deps := map[string][]string{}
	for _, j := range st.Jobs {
		deps[j.Name] = j.DependsOn
	}
	running := 0
	for len(pending) > 0 || running > 0 {
		for _, j := range st.Jobs {
			if !pending[j.Name] {
				continue
			}
			ok := true
			for _, d := range j.DependsOn {
				if _, fin := results[d]; !fin {
					ok = false
				}
			}
			if !ok {
				continue
			}
			delete(pending, j.Name)
			running++
			depInfos := map[string]jobInfo{}
			for k, v := range infos {
				depInfos[k] = v
			}
			allResults := map[string]store.Result{}
			for k, v := range results {
				allResults[k] = v
			}
			go func(j plan.Job) {
				ch <- done{j.Name, rs.runJob(st, j, allResults, depInfos, ancestors(j.Name, deps))}
			}(j)
		}
		if running == 0 {
			for _, j := range st.Jobs {
				if pending[j.Name] {
					jr := rs.record(st.Name + "." + j.Name)
					jr.State, jr.Result, jr.FinishedAt = store.StateCompleted, store.ResultFailed, rs.e.clock.Now()
					jr.Issues = append(jr.Issues, store.Issue{Type: store.IssueError, Message: fmt.Sprintf("job %s depends on jobs that cannot run: %s", j.Name, strings.Join(j.DependsOn, ", "))})
					jr.ErrorCount++
					rs.putRecord(jr)
					results[j.Name] = store.ResultFailed
					delete(pending, j.Name)
				}
			}
			break
		}
		d := <-ch
		running--
		results[d.name] = d.info.Result
		infos[d.name] = d.info
	}
	rs.publishJobs(st, results, infos)
	return results
}

// publishJobs makes a stage's finished jobs visible to later stages.
func (rs *runState) publishJobs(st plan.Stage, results map[string]store.Result, infos map[string]jobInfo) {
	rs.mu.Lock()
	m := map[string]jobInfo{}
	for k, v := range infos {
		m[k] = v
	}
	// Legs of a matrix are also visible under the job's name as written,
	// with their outputs prefixed by the leg name.
	for _, j := range st.Jobs {
		if j.Expansion == nil {
			continue
		}
		agg := m[j.Expansion.Job]
		if agg.Outputs == nil {
			agg.Outputs = map[string]string{}
		}
		var legs []store.Result
		for _, o := range st.Jobs {
			if o.Expansion != nil && o.Expansion.Job == j.Expansion.Job {
				legs = append(legs, results[o.Name])
			}
		}
		agg.Result = combine(legs)
		for k, v := range infos[j.Name].Outputs {
			agg.Outputs[j.Expansion.Leg+"."+k] = v
		}
		m[j.Expansion.Job] = agg
	}
	rs.stageJobs[st.Name] = m
	rs.mu.Unlock()
}

// record returns a copy of the record with id.
func (rs *runState) record(id string) store.Record {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if r, ok := rs.records[id]; ok {
		return *r
	}
	return store.Record{RunID: rs.run.ID, ID: id, Attempt: 1}
}

// putRecord stores a record and tells the observer.
func (rs *runState) putRecord(rec store.Record) {
	rec.RunID = rs.run.ID
	if rec.Attempt == 0 {
		rec.Attempt = 1
	}
	rs.mu.Lock()
	cp := rec
	rs.records[rec.ID] = &cp
	rs.mu.Unlock()
	// What leaves the engine (store, observers, API) has every secret value
	// masked, also in outputs and issue messages; the engine keeps the real
	// values in memory for the jobs that read them.
	rec = rs.maskRecord(rec)
	if err := rs.e.store.UpsertRecord(context.WithoutCancel(rs.ctx), rec); err != nil {
		rs.e.log.Error("record state", slog.String("run", rs.run.ID), slog.String("record", rec.ID), slog.Any("err", err))
	}
	rs.e.observer.RecordChanged(rec)
}

func orName(display, name string) string {
	if display != "" {
		return display
	}
	return name
}

// hostname is cached for predefined variables.
var hostname = func() string { h, _ := os.Hostname(); return h }()

// maskRecord returns rec with secret values masked in its outputs and issue
// messages.
func (rs *runState) maskRecord(rec store.Record) store.Record {
	if len(rec.Outputs) > 0 {
		out := make(map[string]string, len(rec.Outputs))
		for k, v := range rec.Outputs {
			out[k] = rs.mask(v)
		}
		rec.Outputs = out
	}
	if len(rec.Issues) > 0 {
		is := make([]store.Issue, len(rec.Issues))
		for i, x := range rec.Issues {
			x.Message = rs.mask(x.Message)
			is[i] = x
		}
		rec.Issues = is
	}
	return rec
}
