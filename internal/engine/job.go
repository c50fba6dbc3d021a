package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strconv"
	"strings"
	"time"

	"conveyor.dev/conveyor/internal/executor"
	"conveyor.dev/conveyor/internal/plan"
	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/task"
)

// Job defaults, as Azure's.
const (
	defaultJobMinutes    = 60
	defaultCancelMinutes = 5
)

// stageVariables are the variables a stage sees: predefined run variables,
// then the pipeline's, the stage's, and the queue-time ones.
func (rs *runState) stageVariables(st plan.Stage, scope *Scope) *vars {
	v := rs.runVariables()
	_ = rs.addVariables(v, rs.plan.Variables, scope)
	_ = rs.addVariables(v, st.Variables, scope)
	rs.addQueueVariables(v)
	return v
}

// addVariables defines each plan variable: macros expanded against the
// variables before it, runtime expressions evaluated in scope (when given).
// It returns the errors of runtime expressions that could not be evaluated
// (their variables are empty).
func (rs *runState) addVariables(v *vars, defs []plan.Variable, scope *Scope) []error {
	var errs []error
	for _, d := range defs {
		if d.Group != "" || d.Name == "" {
			continue
		}
		val := d.Value
		if src, ok := runtimeExpr(val); ok {
			if scope == nil || rs.e.eval == nil {
				continue
			} else {
				sc := *scope
				sc.Variables = v.values(true)
				sc.Counter = rs.counter
				out, err := rs.e.eval.Value(src, &sc)
				if err != nil {
					errs = append(errs, fmt.Errorf("variable %s: %w", d.Name, err))
					out = ""
				}
				val = out
			}
		} else {
			val = expandMacros(val, v.lookup)
		}
		v.set(variable{Name: d.Name, Value: val, Readonly: d.Readonly})
	}
	return errs
}

// addQueueVariables defines the queue-time variables, read-only as Azure
// documents them: a step cannot change one with task.setvariable.
func (rs *runState) addQueueVariables(v *vars) {
	for k, val := range rs.in.Variables {
		v.set(variable{Name: k, Value: val, Readonly: true})
	}
}

// withMatrixNames adds to the results of finished jobs the result of each
// matrix or parallel job under its name as written (its legs' together,
// once they all finished), so that failed('Build') names a matrix job.
func withMatrixNames(st plan.Stage, results map[string]store.Result) map[string]store.Result {
	legs := map[string][]store.Result{}
	missing := map[string]bool{}
	for _, j := range st.Jobs {
		if j.Expansion == nil {
			continue
		}
		r, ok := results[j.Name]
		if !ok {
			missing[j.Expansion.Job] = true
		}
		legs[j.Expansion.Job] = append(legs[j.Expansion.Job], r)
	}
	if len(legs) == 0 {
		return results
	}
	out := make(map[string]store.Result, len(results)+len(legs))
	for k, v := range results {
		out[k] = v
	}
	for name, rs := range legs {
		if _, taken := out[name]; !taken && !missing[name] {
			out[name] = combine(rs)
		}
	}
	return out
}

// jobDependencies returns what a job's expressions see of the finished jobs
// of its stage, with matrix legs also gathered under the job's written name.
func jobDependencies(st plan.Stage, infos map[string]jobInfo) map[string]any {
	out := map[string]any{}
	agg := map[string]map[string]any{}
	legResults := map[string][]store.Result{}
	for _, j := range st.Jobs {
		info, ok := infos[j.Name]
		if !ok {
			continue
		}
		out[j.Name] = map[string]any{"result": depResult(info.Result), "outputs": anyMap(info.Outputs)}
		if j.Expansion != nil {
			if agg[j.Expansion.Job] == nil {
				agg[j.Expansion.Job] = map[string]any{}
			}
			for k, v := range info.Outputs {
				agg[j.Expansion.Job][j.Expansion.Leg+"."+k] = v
			}
			legResults[j.Expansion.Job] = append(legResults[j.Expansion.Job], info.Result)
		}
	}
	for name, outs := range agg {
		if _, ok := out[name]; ok {
			continue
		}
		out[name] = map[string]any{"result": depResult(combine(legResults[name])), "outputs": outs}
	}
	return out
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// stageDependencies returns what a job sees of finished stages.
func (rs *runState) stageDependencies() map[string]any {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := map[string]any{}
	for stage, jobs := range rs.stageJobs {
		m := map[string]any{}
		for job, info := range jobs {
			m[job] = map[string]any{"result": depResult(info.Result), "outputs": anyMap(info.Outputs)}
		}
		out[stage] = m
	}
	return out
}

// jobRun is the state of one running job.
type jobRun struct {
	rs      *runState
	st      plan.Stage
	j       plan.Job
	id      string
	vars    *vars
	status  store.Result // succeeded, succeededWithIssues, failed, canceled
	ws      executor.Job
	dirs    task.Dirs
	prepend []string
	outputs map[string]string
	secrets map[string]bool // output names whose values are secret
	ctx     context.Context // the job's execution context: ends a cancel timeout after soft
	soft    context.Context // ends when the run is canceled or the job times out
	grace   time.Duration
	order   int
	issues  []store.Issue
	// hook and increment name the deployment hook being run.
	hook      string
	increment int
	checkouts int // checkout steps of the job other than none
	timedOut  func() bool
	// startedCanceled is true for a job that started after the run was
	// canceled (its condition allowed it): it keeps its own result.
	startedCanceled bool
	// attempt is the job's attempt: above 1 when a resumed run runs it again.
	jobAttempt int
}

// jobRecord returns the record of job id for attempt: the one recorded
// so far, or a fresh one of the same job for a new attempt.
func (rs *runState) jobRecord(id string, attempt int) store.Record {
	rec := rs.record(id)
	if rec.Attempt == attempt {
		return rec
	}
	return store.Record{RunID: rec.RunID, ID: rec.ID, ParentID: rec.ParentID, Type: rec.Type, Name: rec.Name,
		DisplayName: rec.DisplayName, Order: rec.Order, Attempt: attempt, State: store.StateQueued}
}

// runJob evaluates a job's condition and runs it.
func (rs *runState) runJob(st plan.Stage, j plan.Job, results map[string]store.Result, infos map[string]jobInfo, anc []string) jobInfo {
	id := st.Name + "." + j.Name
	// A resumed run: a finished job keeps its result and outputs; one that
	// was running runs again as the next attempt; one that waited on a
	// check waits again.
	attempt := 1
	if p, ok := rs.prior[id]; ok {
		switch {
		case p.State == store.StateCompleted && p.Result != store.ResultInterrupted:
			return jobInfo{Result: p.Result, Outputs: p.Outputs}
		case p.State == store.StateCompleted:
			attempt = p.Attempt + 1
		default:
			attempt = p.Attempt
		}
	}
	g := &graphStatus{results: withMatrixNames(st, results), all: anc, canceled: rs.canceled()}
	scope := &Scope{
		Dependencies:      jobDependencies(st, infos),
		StageDependencies: rs.stageDependencies(),
		Status:            g.status,
		StartTime:         rs.run.CreatedAt,
	}
	v := rs.runVariables()
	verrs := rs.addVariables(v, rs.plan.Variables, scope)
	verrs = append(verrs, rs.addVariables(v, st.Variables, scope)...)
	verrs = append(verrs, rs.addVariables(v, j.Variables, scope)...)
	rs.addQueueVariables(v)
	scope.Variables = v.values(true)
	ok, err := evalCondition(rs.e.eval, j.Condition, scope)
	if err == nil && ok && len(verrs) > 0 {
		err = errors.Join(verrs...)
	}
	now := rs.e.clock.Now()
	if err != nil || !ok {
		rec := rs.record(id)
		rec.State, rec.Result, rec.FinishedAt = store.StateCompleted, store.ResultSkipped, now
		if err != nil {
			rec.Result = store.ResultFailed
			rec.Issues = append(rec.Issues, store.Issue{Type: store.IssueError, Message: err.Error()})
			rec.ErrorCount++
		}
		rs.putRecord(rec)
		return jobInfo{Result: rec.Result}
	}
	if j.RuntimeMatrix != nil {
		return rs.runMatrix(st, j, results, infos, anc, scope)
	}

	if agentless(j) {
		return rs.runAgentlessJob(st, j, id, v, attempt)
	}

	// Wait for a slot: the matrix's bound first (so that a waiting leg holds
	// no slot of the run), then the run's.
	if j.Expansion != nil && j.Expansion.MaxParallel > 0 {
		rs.mu.Lock()
		sem := rs.legSems[st.Name+"."+j.Expansion.Job]
		if sem == nil {
			sem = make(chan struct{}, j.Expansion.MaxParallel)
			rs.legSems[st.Name+"."+j.Expansion.Job] = sem
		}
		rs.mu.Unlock()
		sem <- struct{}{}
		defer func() { <-sem }()
	}
	rs.sem <- struct{}{}
	defer func() { <-rs.sem }()
	// Canceled while waiting for a slot: the condition decides again.
	if !g.canceled && rs.canceled() {
		g.canceled = true
		if ok, err := evalCondition(rs.e.eval, j.Condition, scope); err != nil || !ok {
			rec := rs.record(id)
			rec.State, rec.Result, rec.FinishedAt = store.StateCompleted, store.ResultSkipped, rs.e.clock.Now()
			rs.putRecord(rec)
			return jobInfo{Result: store.ResultSkipped}
		}
	}
	startedCanceled := rs.canceled()

	rec := rs.jobRecord(id, attempt)
	rec.State, rec.StartedAt = store.StateRunning, rs.e.clock.Now()
	rs.putRecord(rec)

	timeout := defaultJobMinutes * rs.e.minute
	if j.TimeoutInMinutes > 0 {
		timeout = time.Duration(j.TimeoutInMinutes) * rs.e.minute
	}
	grace := defaultCancelMinutes * rs.e.minute
	if j.CancelTimeoutInMinutes > 0 {
		grace = time.Duration(j.CancelTimeoutInMinutes) * rs.e.minute
	}
	// soft ends when the run is canceled or the job times out: running steps
	// are stopped and only steps whose conditions allow it still run. hard
	// ends the cancel timeout after that: everything stops.
	soft, cancelSoft := context.WithTimeout(rs.ctx, timeout)
	if j.NoTimeout {
		soft, cancelSoft = context.WithCancel(rs.ctx)
	}
	defer cancelSoft()
	hard, cancelHard := context.WithCancel(context.WithoutCancel(rs.ctx))
	defer cancelHard()
	stopGrace := context.AfterFunc(soft, func() {
		t := time.AfterFunc(grace, cancelHard)
		context.AfterFunc(hard, func() { t.Stop() })
	})
	defer stopGrace()

	jr := &jobRun{rs: rs, st: st, j: j, id: id, jobAttempt: attempt, vars: v, status: store.ResultSucceeded,
		outputs: map[string]string{}, secrets: map[string]bool{}, ctx: hard, soft: soft, grace: grace}
	jr.timedOut = func() bool { return errors.Is(soft.Err(), context.DeadlineExceeded) && !rs.canceled() }
	jr.startedCanceled = startedCanceled
	result := jr.run()

	rec = rs.record(id)
	rec.State, rec.Result, rec.FinishedAt = store.StateCompleted, result, rs.e.clock.Now()
	rec.Issues = append(rec.Issues, jr.issues...)
	for _, is := range jr.issues {
		if is.Type == store.IssueError {
			rec.ErrorCount++
		} else {
			rec.WarningCount++
		}
	}
	rec.Outputs = map[string]string{}
	rec.SecretOutputs = nil
	for k, val := range jr.outputs {
		if jr.secrets[k] {
			rec.SecretOutputs = append(rec.SecretOutputs, k)
			continue
		}
		rec.Outputs[k] = val
	}
	rs.putRecord(rec)
	return jobInfo{Result: result, Outputs: jr.outputs}
}

// run runs the job's steps (or hooks) in its workspace and returns its
// result.
func (jr *jobRun) run() store.Result {
	rs := jr.rs
	spec := executor.JobSpec{
		RunID: rs.run.ID, Pipeline: rs.in.Pipeline + "\x00" + rs.in.Repository, JobID: jr.id, WorkspaceClean: jr.j.WorkspaceClean,
	}
	if jr.j.Container != nil {
		spec.Container = jr.j.Container.Image
	}
	ws, err := rs.e.exec.StartJob(jr.ctx, spec)
	if err != nil {
		jr.issues = append(jr.issues, store.Issue{Type: store.IssueError, Message: "infrastructure: " + err.Error()})
		return store.ResultFailed
	}
	defer func() {
		if err := ws.Close(context.WithoutCancel(jr.ctx)); err != nil {
			rs.e.log.Warn("close workspace", slog.String("run", rs.run.ID), slog.String("job", jr.id), slog.Any("err", err))
		}
	}()
	jr.ws, jr.dirs = ws, ws.Dirs()
	jr.addVariableGroups() // groups.go
	inContainer := false
	if cj, ok := ws.(executor.ContainerJob); ok {
		inContainer = cj.RunsInContainer()
	}
	if (jr.j.Container != nil && !inContainer) || len(jr.j.Services) > 0 {
		jr.issues = append(jr.issues, store.Issue{Type: store.IssueWarning,
			Message: "the job's container and services are not started by this executor: its steps run on the host"})
	}
	jobVariables(jr.vars, jr.st, jr.j, jr.dirs, jr.id, jr.jobAttempt)
	jr.vars.resolve()

	if jr.j.Kind == plan.KindDeployment {
		jr.runHooks()
	} else {
		// The compiler adds the implicit checkout: self of a regular job
		// (and leaves it out for checkout: none); the plan is run as is.
		steps := jr.j.Steps
		jr.countCheckouts(steps)
		for i, s := range steps {
			jr.runStep(s, jr.id, i+1)
		}
	}
	res := jr.status
	if jr.timedOut() {
		jr.issues = append(jr.issues, store.Issue{Type: store.IssueError,
			Message: fmt.Sprintf("the job ran longer than the maximum time of %d minutes", int(jr.timeout()/time.Minute))})
		res = store.ResultFailed
	}
	if res == store.ResultFailed && jr.j.ContinueOnError {
		res = store.ResultSucceededWithIssues
	}
	// A job the cancel caught while it ran ends canceled.
	if rs.canceled() && !jr.startedCanceled && res != store.ResultFailed {
		res = store.ResultCanceled
	}
	return res
}

func (jr *jobRun) timeout() time.Duration {
	if jr.j.TimeoutInMinutes > 0 {
		return time.Duration(jr.j.TimeoutInMinutes) * time.Minute
	}
	return defaultJobMinutes * time.Minute
}

func (jr *jobRun) countCheckouts(steps []plan.Step) {
	for _, s := range steps {
		if s.Kind == plan.StepCheckout && s.Checkout != nil && s.Checkout.Repository != "none" {
			jr.checkouts++
		}
	}
}

// runHooks runs a deployment job's lifecycle hooks in order, then
// on.success or on.failure.
func (jr *jobRun) runHooks() {
	var onSuccess, onFailure []plan.Hook
	for _, h := range jr.j.Hooks {
		for _, s := range h.Steps {
			if s.Kind == plan.StepCheckout && s.Checkout != nil && s.Checkout.Repository != "none" {
				jr.checkouts++
			}
		}
	}
	order := 0
	run := func(h plan.Hook) {
		order++
		hid := jr.id + "." + hookID(h)
		rs := jr.rs
		rs.putRecord(store.Record{ID: hid, ParentID: jr.id, Type: store.RecordPhase, Name: h.Name, DisplayName: hookID(h), Order: order,
			Attempt: rs.nextAttempt(hid, jr.jobAttempt), State: store.StateRunning, StartedAt: rs.e.clock.Now()})
		jr.hook, jr.increment = h.Name, h.Increment
		jr.vars.force(variable{Name: "Strategy.CycleName", Value: cycleName(h.Name), Readonly: true})
		if h.Increment > 0 {
			jr.vars.force(variable{Name: "Strategy.Increment", Value: strconv.Itoa(h.Increment), Readonly: true})
		}
		// Each hook runs like a job of its own (as in Azure): its steps'
		// status functions see the hook's status, which starts succeeded.
		before := jr.status
		jr.status = store.ResultSucceeded
		for i, s := range h.Steps {
			jr.runStep(s, hid, i+1)
		}
		res := jr.status
		jr.status = combineStatus(before, res)
		rec := rs.record(hid)
		rec.State, rec.Result, rec.FinishedAt = store.StateCompleted, res, rs.e.clock.Now()
		rs.putRecord(rec)
	}
	for _, h := range jr.j.Hooks {
		switch h.Name {
		case plan.HookOnSuccess:
			onSuccess = append(onSuccess, h)
		case plan.HookOnFailure:
			onFailure = append(onFailure, h)
		default:
			if jr.status == store.ResultFailed || jr.status == store.ResultCanceled || jr.canceled() {
				order++
				now := jr.rs.e.clock.Now()
				hid := jr.id + "." + hookID(h)
				jr.rs.putRecord(store.Record{ID: hid, ParentID: jr.id, Type: store.RecordPhase, Name: h.Name, Attempt: jr.rs.nextAttempt(hid, jr.jobAttempt),
					DisplayName: hookID(h), Order: order, State: store.StateCompleted, Result: store.ResultSkipped, StartedAt: now, FinishedAt: now})
				continue
			}
			run(h)
		}
	}
	switch jr.status {
	case store.ResultSucceeded, store.ResultSucceededWithIssues:
		for _, h := range onSuccess {
			run(h)
		}
	case store.ResultFailed:
		for _, h := range onFailure {
			run(h)
		}
	}
}

func hookID(h plan.Hook) string {
	if h.Increment > 0 {
		return h.Name + "_" + strconv.Itoa(h.Increment)
	}
	return h.Name
}

// checkoutInputs turns a checkout step into the inputs of the checkout task;
// ok is false for checkout: none.
func (jr *jobRun) checkoutInputs(c *plan.Checkout) (map[string]string, bool, error) {
	if c == nil || c.Repository == "none" {
		return nil, false, nil
	}
	rs := jr.rs
	in := map[string]string{
		"clean":      c.Clean,
		"fetchDepth": strconv.Itoa(c.FetchDepth),
		"fetchTags":  c.FetchTags,
		"submodules": c.Submodules,
	}
	name := ""
	if c.Repository == "self" || c.Repository == "" {
		in["url"], in["commit"], in["ref"] = rs.in.Repository, rs.in.Commit, refBranch(rs.in.Branch)
		name = rs.in.repoName()
	} else {
		var res *plan.RepositoryResource
		for i := range rs.plan.Resources.Repositories {
			if rs.plan.Resources.Repositories[i].Alias == c.Repository {
				res = &rs.plan.Resources.Repositories[i]
			}
		}
		if res == nil {
			return nil, false, fmt.Errorf("checkout %s: no repository with that alias under resources.repositories: declare it there", c.Repository)
		}
		in["url"], in["ref"] = repositoryURL(*res), res.Ref
		name = path.Base(strings.TrimSuffix(strings.TrimRight(res.Name, "/"), ".git"))
	}
	switch {
	case c.Path != "":
		in["path"] = c.Path // relative to Agent.BuildDirectory
	case jr.checkouts > 1:
		in["path"] = "s/" + name
	default:
		in["path"] = "s"
	}
	return in, true, nil
}

// combineStatus folds a hook's status into its job's.
func combineStatus(job, hook store.Result) store.Result {
	rank := map[store.Result]int{store.ResultSucceeded: 0, store.ResultSucceededWithIssues: 1, store.ResultFailed: 2, store.ResultCanceled: 3}
	if rank[hook] > rank[job] {
		return hook
	}
	return job
}

// canceled reports whether the job is being canceled: the run was canceled
// or the job timed out.
func (jr *jobRun) canceled() bool { return jr.soft.Err() != nil }

// repositoryURL is where a repository resource is fetched from: its name
// when that is a URL or a path; for GitHub, https://github.com/<name>.
func repositoryURL(r plan.RepositoryResource) string {
	n := r.Name
	if strings.Contains(n, "://") || strings.HasPrefix(n, "/") || strings.HasPrefix(n, ".") || strings.Contains(n, "@") {
		return n
	}
	switch strings.ToLower(r.Type) {
	case "github":
		return "https://github.com/" + n + ".git"
	case "githubenterprise", "bitbucket":
		if r.Endpoint != "" {
			return strings.TrimRight(r.Endpoint, "/") + "/" + n + ".git"
		}
	}
	return n
}
