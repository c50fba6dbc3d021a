package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"conveyor.dev/conveyor/internal/executor"
	"conveyor.dev/conveyor/internal/plan"
	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/task"
)

// stepName is the reference name of a step: its name, or stepN.
func stepName(s plan.Step, index int) string {
	if s.Name != "" {
		return s.Name
	}
	return "step" + strconv.Itoa(index)
}

// stepDisplay is what the timeline shows for a step.
func stepDisplay(s plan.Step) string {
	switch {
	case s.DisplayName != "":
		return s.DisplayName
	case s.Kind == plan.StepCheckout && s.Checkout != nil:
		return "Checkout " + s.Checkout.Repository
	case s.Inputs["script"] != "" && (strings.HasPrefix(s.Task, "CmdLine") || strings.HasPrefix(s.Task, "Bash")):
		first, _, _ := strings.Cut(strings.TrimSpace(s.Inputs["script"]), "\n")
		if len(first) > 60 {
			first = first[:60] + "…"
		}
		return first
	}
	return s.Task
}

// pendingStep collects what a step's logging commands change; variables
// become visible to the steps after it.
type pendingStep struct {
	mu       sync.Mutex
	sets     []variable
	prepend  []string
	complete store.Result
	issues   []store.Issue
	// buildNumber is set by ##vso[build.updatebuildnumber].
	buildNumber string
}

// runStep runs one step of the job, with its condition, retries, timeout
// and continueOnError, and folds its result into the job's status.
func (jr *jobRun) runStep(s plan.Step, parentID string, index int) {
	rs := jr.rs
	name := stepName(s, index)
	id := parentID + "." + name
	jr.order++
	base := rs.nextAttempt(id, jr.jobAttempt) - 1
	rec := store.Record{RunID: rs.run.ID, ID: id, ParentID: parentID, Type: store.RecordStep, Name: name, DisplayName: rs.mask(expandMacros(stepDisplay(s), jr.vars.lookup)), Order: jr.order, Attempt: base + 1, State: store.StateQueued}

	taskName, inputs := s.Task, s.Inputs
	if s.Kind == plan.StepCheckout {
		in, ok, err := jr.checkoutInputs(s.Checkout)
		if err != nil {
			jr.finishStep(rec, store.ResultFailed, store.Issue{Type: store.IssueError, Message: err.Error()})
			jr.status = store.ResultFailed
			return
		}
		if !ok {
			return // checkout: none
		}
		taskName, inputs = task.CheckoutTask, in
	}

	jr.vars.force(variable{Name: "Agent.JobStatus", Value: jobStatusName(jr.status), Readonly: true})
	scope := &Scope{StartTime: jr.rs.run.CreatedAt, Variables: jr.vars.values(true), Status: (&jobStatus{result: jr.status, canceled: jr.canceled()}).status}
	ok, err := evalCondition(rs.e.eval, s.Condition, scope)
	if err != nil {
		jr.finishStep(rec, store.ResultFailed, store.Issue{Type: store.IssueError, Message: err.Error()})
		jr.status = store.ResultFailed
		return
	}
	if !ok || !s.Enabled || jr.ctx.Err() != nil {
		jr.finishStep(rec, store.ResultSkipped)
		return
	}

	lookup := jr.vars.lookup
	expIn := make(map[string]string, len(inputs))
	for k, v := range inputs {
		expIn[k] = expandMacros(v, lookup)
	}
	env := jr.vars.environ()
	env["TF_BUILD"] = "True" // "Use predefined variables": set for every script a pipeline runs
	for k, v := range s.Env {
		env[k] = expandMacros(v, lookup)
	}

	attempts := 1 + max(0, s.RetryCountOnTaskFailure)
	var result store.Result
	for attempt := 1; attempt <= attempts; attempt++ {
		if attempt > 1 {
			if d := rs.e.retryDelay(attempt - 1); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-jr.ctx.Done():
				case <-jr.soft.Done():
				}
				t.Stop()
			}
		}
		rec.Attempt = base + attempt
		var pend *pendingStep
		result, pend = jr.attempt(rec, s, taskName, expIn, env, attempt == attempts)
		if result != store.ResultFailed || attempt == attempts || jr.canceled() || jr.ctx.Err() != nil {
			jr.apply(s, name, pend)
			break
		}
	}
	switch result {
	case store.ResultFailed:
		if s.ContinueOnError {
			if jr.status == store.ResultSucceeded {
				jr.status = store.ResultSucceededWithIssues
			}
		} else if jr.status != store.ResultCanceled {
			jr.status = store.ResultFailed
		}
	case store.ResultSucceededWithIssues:
		if jr.status == store.ResultSucceeded {
			jr.status = store.ResultSucceededWithIssues
		}
	case store.ResultCanceled:
		jr.status = store.ResultCanceled
	}
}

// finishStep records a step that did not run (or failed before running).
func (jr *jobRun) finishStep(rec store.Record, result store.Result, issues ...store.Issue) {
	now := jr.rs.e.clock.Now()
	rec.State, rec.Result, rec.StartedAt, rec.FinishedAt = store.StateCompleted, result, now, now
	for _, is := range issues {
		rec.Issues = append(rec.Issues, is)
		if is.Type == store.IssueError {
			rec.ErrorCount++
		} else {
			rec.WarningCount++
		}
	}
	jr.rs.putRecord(rec)
}

// attempt runs one attempt of a step and records it.
// The result is the step's own (Failed stays Failed); the record of the
// last attempt shows a failure under continueOnError as SucceededWithIssues.
func (jr *jobRun) attempt(rec store.Record, s plan.Step, taskName string, inputs, env map[string]string, last bool) (store.Result, *pendingStep) {
	rs := jr.rs
	pend := &pendingStep{}
	rec.State, rec.StartedAt = store.StateRunning, rs.e.clock.Now()
	rec.Result, rec.FinishedAt = "", time.Time{}
	rs.putRecord(rec)

	lw, err := rs.e.store.OpenLog(context.WithoutCancel(rs.ctx), rs.run.ID, rec.ID, rec.Attempt)
	if err != nil {
		rs.e.log.Error("open step log", slog.String("run", rs.run.ID), slog.String("step", rec.ID), slog.Any("err", err))
		jr.finishStep(rec, store.ResultFailed, store.Issue{Type: store.IssueError, Message: "infrastructure: " + err.Error()})
		return store.ResultFailed, pend
	}
	var lines int64
	var logMu sync.Mutex
	write := func(ts time.Time, text string) {
		masked := rs.mask(text)
		logMu.Lock()
		if err := lw.WriteLine(ts, masked); err != nil {
			rs.e.log.Error("write step log", slog.String("run", rs.run.ID), slog.String("step", rec.ID), slog.Any("err", err))
		}
		lines++
		logMu.Unlock()
		rs.e.observer.Line(rec, ts, masked)
	}
	output := func(ts time.Time, line string) {
		if c, ok := ParseCommand(line); ok {
			jr.handleCommand(s, c, pend, write, ts)
			return
		}
		write(ts, line)
	}

	// The step's context: its own timeout within the job's; canceled with
	// the run (or the job's timeout) only when it started before that.
	sctx, cancel := context.WithCancel(jr.ctx)
	defer cancel()
	if !jr.canceled() {
		stop := context.AfterFunc(jr.soft, cancel)
		defer stop()
	}
	if s.TimeoutInMinutes > 0 {
		var c2 context.CancelFunc
		sctx, c2 = context.WithTimeoutCause(sctx, time.Duration(s.TimeoutInMinutes)*rs.e.minute, errStepTimeout)
		defer c2()
	}
	res, err := jr.ws.RunStep(sctx, executor.Step{
		ID: rec.ID, Task: taskName, Inputs: inputs, Variables: jr.vars.values(true), Env: env,
		PathPrepend: jr.prepend, KillGrace: jr.grace, Output: output,
		SetVariable: func(name, value string, o task.VarOptions) error {
			return jr.setVariable(s, name, value, o, pend)
		},
		AddSummary: rs.addSummary,
	})
	var result store.Result
	var issues []store.Issue
	switch {
	case err != nil:
		result = store.ResultFailed
		msg := "infrastructure: " + err.Error()
		if errors.Is(err, executor.ErrUnknownTask) {
			msg = fmt.Sprintf("task %s is not a built-in task: use one of %s", taskName, strings.Join(task.Names(), ", "))
		}
		issues = append(issues, store.Issue{Type: store.IssueError, Message: msg})
		write(rs.e.clock.Now(), "##[error]"+msg)
	case errors.Is(context.Cause(sctx), errStepTimeout):
		result = store.ResultFailed
		issues = append(issues, store.Issue{Type: store.IssueError, Message: fmt.Sprintf("the task has timed out after %d minutes", s.TimeoutInMinutes)})
		write(rs.e.clock.Now(), "##[error]The task has timed out.")
	case sctx.Err() != nil && (jr.canceled() || jr.ctx.Err() != nil):
		result = store.ResultCanceled
		write(rs.e.clock.Now(), "##[error]The operation was canceled.")
	default:
		result = fromTask(res.Status)
		if result == store.ResultFailed && res.Message != "" {
			issues = append(issues, store.Issue{Type: store.IssueError, Message: res.Message})
			write(rs.e.clock.Now(), "##[error]"+res.Message)
		}
	}
	pend.mu.Lock()
	if pend.complete != "" && result != store.ResultCanceled {
		result = worse(result, pend.complete)
	}
	issues = append(pend.issues, issues...)
	pend.mu.Unlock()
	recResult := result
	if result == store.ResultFailed && s.ContinueOnError && last {
		recResult = store.ResultSucceededWithIssues
	}
	if err := lw.Close(); err != nil {
		rs.e.log.Error("close step log", slog.String("run", rs.run.ID), slog.String("step", rec.ID), slog.Any("err", err))
	}
	rec.LogLines = lines
	rec.Issues = nil
	rec.ErrorCount, rec.WarningCount = 0, 0
	rec.State, rec.Result, rec.FinishedAt = store.StateCompleted, recResult, rs.e.clock.Now()
	for _, is := range issues {
		rec.Issues = append(rec.Issues, is)
		if is.Type == store.IssueError {
			rec.ErrorCount++
		} else {
			rec.WarningCount++
		}
	}
	rs.putRecord(rec)
	return result, pend
}

var errStepTimeout = errors.New("step timed out")

func fromTask(s task.Status) store.Result {
	switch s {
	case task.Succeeded:
		return store.ResultSucceeded
	case task.SucceededWithIssues:
		return store.ResultSucceededWithIssues
	}
	return store.ResultFailed
}

// worse returns the worse of two step results.
func worse(a, b store.Result) store.Result {
	rank := map[store.Result]int{store.ResultSucceeded: 1, store.ResultSucceededWithIssues: 2, store.ResultFailed: 3, store.ResultCanceled: 4}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// apply makes a finished step's variables and PATH changes visible to the
// steps after it.
func (jr *jobRun) apply(s plan.Step, name string, pend *pendingStep) {
	if pend == nil {
		return
	}
	pend.mu.Lock()
	defer pend.mu.Unlock()
	for _, v := range pend.sets {
		if v.Output {
			key := name + "." + v.Name
			jr.vars.force(variable{Name: key, Value: v.Value, Secret: v.Secret, Output: true})
			for _, alias := range jr.outputKeys(name, v.Name) {
				jr.outputs[alias] = v.Value
				if v.Secret {
					jr.secrets[alias] = true
				}
			}
			continue
		}
		if !jr.vars.set(v) {
			jr.issues = append(jr.issues, store.Issue{Type: store.IssueWarning, Message: fmt.Sprintf("variable %s is read-only and was not changed", v.Name)})
		}
	}
	if pend.buildNumber != "" {
		jr.vars.force(variable{Name: "Build.BuildNumber", Value: pend.buildNumber, Readonly: true})
		jr.vars.force(variable{Name: "Pipeline.RunName", Value: pend.buildNumber, Readonly: true})
	}
	// Later prepends come first on PATH.
	for _, d := range pend.prepend {
		jr.prepend = append([]string{d}, jr.prepend...)
	}
}

// outputKeys are the names an output variable has in dependencies: step.var,
// and for deployment jobs also <job>.step.var and <hook>.step.var (with the
// resource name, and <hook>_<increment>.step.var for rolling and canary,
// as Azure does).
func (jr *jobRun) outputKeys(step, name string) []string {
	base := step + "." + name
	keys := []string{base}
	if jr.j.Kind == plan.KindDeployment {
		keys = append(keys, jr.j.Name+"."+base)
		if jr.hook != "" {
			keys = append(keys, jr.hook+"."+base)
			if jr.increment > 0 { // canary and rolling: <hook>_<increment>.step.var
				keys = append(keys, jr.hook+"_"+strconv.Itoa(jr.increment)+"."+base)
			}
			if env := jr.j.Environment; env != nil && env.ResourceName != "" {
				keys = append(keys, jr.hook+"_"+env.ResourceName+"."+base, jr.j.Name+"_"+env.ResourceName+"."+base)
			}
		}
	}
	return keys
}

// setVariable handles ##vso[task.setvariable] and task Env.SetVariable.
func (jr *jobRun) setVariable(s plan.Step, name, value string, o task.VarOptions, pend *pendingStep) error {
	name = strings.TrimSpace(name)
	if name == "" {
		return fmt.Errorf("set variable: empty name")
	}
	if t := s.Target; t != nil && !o.Output {
		if t.SettableNone {
			return fmt.Errorf("set variable %s: the step's target allows no variables to be set", name)
		}
		if len(t.SettableVariables) > 0 {
			allowed := false
			for _, a := range t.SettableVariables {
				if strings.EqualFold(a, name) {
					allowed = true
				}
			}
			if !allowed {
				return fmt.Errorf("set variable %s: not in the step's target.settableVariables", name)
			}
		}
	}
	if old, ok := jr.vars.get(name); ok && old.Readonly && !o.Output {
		return fmt.Errorf("set variable %s: the variable is read-only", name)
	}
	if o.Secret {
		jr.rs.addSecret(value)
	}
	pend.mu.Lock()
	pend.sets = append(pend.sets, variable{Name: name, Value: value, Secret: o.Secret, Readonly: o.Readonly, Output: o.Output})
	pend.mu.Unlock()
	return nil
}

// handleCommand acts on one logging command of a step's output.
func (jr *jobRun) handleCommand(s plan.Step, c Command, pend *pendingStep, write func(time.Time, string), ts time.Time) {
	rs := jr.rs
	warn := func(msg string) {
		pend.mu.Lock()
		pend.issues = append(pend.issues, store.Issue{Type: store.IssueWarning, Message: msg})
		pend.mu.Unlock()
		write(ts, "##[warning]"+msg)
	}
	restricted := s.Target != nil && strings.EqualFold(s.Target.Commands, "restricted")
	key := c.Area + "." + c.Action
	if restricted {
		switch key {
		case "task.logissue", "task.complete", "task.setvariable", "task.setsecret", "task.setprogress":
		default:
			warn(fmt.Sprintf("##vso[%s] is not allowed: the step's target.commands is restricted", key))
			return
		}
	}
	switch key {
	case "task.setvariable":
		name := c.Properties["variable"]
		err := jr.setVariable(s, name, c.Data, task.VarOptions{
			Output: c.Bool("isoutput"), Secret: c.Bool("issecret"), Readonly: c.Bool("isreadonly"),
		}, pend)
		if err != nil {
			warn(err.Error())
		}
	case "task.setsecret":
		rs.addSecret(c.Data)
	case "task.logissue":
		typ := store.IssueWarning
		if strings.EqualFold(c.Properties["type"], "error") {
			typ = store.IssueError
		}
		line, _ := strconv.Atoi(c.Properties["linenumber"])
		msg := rs.mask(c.Data)
		pend.mu.Lock()
		pend.issues = append(pend.issues, store.Issue{Type: typ, Message: msg, File: c.Properties["sourcepath"], Line: line})
		pend.mu.Unlock()
		write(ts, "##["+string(typ)+"]"+msg)
	case "task.complete":
		var r store.Result
		switch strings.ToLower(c.Properties["result"]) {
		case "", "succeeded":
			r = store.ResultSucceeded
		case "succeededwithissues":
			r = store.ResultSucceededWithIssues
		case "failed":
			r = store.ResultFailed
		default:
			warn(fmt.Sprintf("task.complete: unknown result %q: use Succeeded, SucceededWithIssues or Failed", c.Properties["result"]))
			return
		}
		pend.mu.Lock()
		pend.complete = r
		pend.mu.Unlock()
		if c.Data != "" {
			write(ts, c.Data)
		}
	case "task.prependpath":
		pend.mu.Lock()
		pend.prepend = append(pend.prepend, strings.TrimSpace(c.Data))
		pend.mu.Unlock()
	case "build.addbuildtag":
		tag := strings.TrimSpace(c.Data)
		if tag == "" {
			return
		}
		if err := rs.e.store.AddRunTag(context.WithoutCancel(rs.ctx), rs.run.ID, tag); err != nil {
			warn(fmt.Sprintf("add build tag %s: %v", tag, err))
		}
	case "task.uploadsummary", "task.addattachment":
		p := strings.TrimSpace(c.Data)
		if p == "" {
			return
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(jr.dirs.Sources, p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			warn(fmt.Sprintf("upload summary %s: %v", p, err))
			return
		}
		rs.addSummary(rs.mask(string(data)))
	case "build.updatebuildnumber":
		n := strings.TrimSpace(c.Data)
		if n == "" {
			return
		}
		rs.mu.Lock()
		rs.buildNumberSet = n
		rs.mu.Unlock()
		pend.mu.Lock()
		pend.buildNumber = n
		pend.mu.Unlock()
	case "task.setprogress", "task.debug":
	default:
		// Unknown commands are kept visible so the user sees them.
		write(ts, "##[debug]unsupported logging command "+key)
	}
}

// mask hides the run's secrets in s.
func (rs *runState) mask(s string) string { return rs.masker.Mask(s) }

func (rs *runState) addSecret(v string) {
	if err := rs.masker.Add(v); err != nil {
		rs.e.log.Warn("register secret", slog.String("run", rs.run.ID), slog.Any("err", err))
	}
}

func (rs *runState) addSummary(text string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.summaries = append(rs.summaries, rs.mask(text))
}
