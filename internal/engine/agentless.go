package engine

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"conveyor.dev/conveyor/internal/approval"
	"conveyor.dev/conveyor/internal/plan"
	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/task"
)

// agentless reports whether a job runs on the engine itself, without a
// workspace: a job (pool: server) whose steps are all agentless tasks.
func agentless(j plan.Job) bool {
	if j.Kind != plan.KindJob || len(j.Steps) == 0 {
		return false
	}
	for _, s := range j.Steps {
		if s.Kind != plan.StepTask || !task.Agentless(s.Task) {
			return false
		}
	}
	return true
}

// runAgentlessJob runs an agentless job's steps (ManualValidation) without
// an executor and without holding a slot of the run while it waits.
func (rs *runState) runAgentlessJob(st plan.Stage, j plan.Job, id string, v *vars, attempt int) jobInfo {
	rec := rs.jobRecord(id, attempt)
	rec.State = store.StateRunning
	if rec.StartedAt.IsZero() || rec.Attempt != attempt {
		rec.StartedAt = rs.e.clock.Now()
	}
	rs.putRecord(rec)
	v.resolve()
	status := store.ResultSucceeded
	var issues []store.Issue
	for i, s := range j.Steps {
		name := stepName(s, i+1)
		sid := id + "." + name
		if p, ok := rs.prior[sid]; ok && p.State == store.StateCompleted && p.Result != store.ResultInterrupted && attempt == rs.prior[id].Attempt {
			status = foldStep(status, p.Result, s.ContinueOnError)
			continue
		}
		srec := rs.record(sid)
		srec.ParentID, srec.Type, srec.Name, srec.Order = id, store.RecordStep, name, i+1
		srec.DisplayName = rs.mask(expandMacros(stepDisplay(s), v.lookup))
		srec.Attempt = rs.nextAttempt(sid, attempt)
		if p, ok := rs.prior[sid]; ok && p.State == store.StateWaiting {
			srec.Attempt = p.Attempt
		}
		scope := &Scope{StartTime: rs.run.CreatedAt, Variables: v.values(true), Status: (&jobStatus{result: status, canceled: rs.canceled()}).status}
		ok, err := evalCondition(rs.e.eval, s.Condition, scope)
		now := rs.e.clock.Now()
		if err != nil || !ok || !s.Enabled {
			srec.State, srec.Result, srec.StartedAt, srec.FinishedAt = store.StateCompleted, store.ResultSkipped, now, now
			if err != nil {
				srec.Result = store.ResultFailed
				srec.Issues, srec.ErrorCount = []store.Issue{{Type: store.IssueError, Message: err.Error()}}, 1
				status = store.ResultFailed
			}
			rs.putRecord(srec)
			continue
		}
		in := make(map[string]string, len(s.Inputs))
		for k, val := range s.Inputs {
			in[k] = expandMacros(val, v.lookup)
		}
		srec.State = store.StateRunning
		if srec.StartedAt.IsZero() {
			srec.StartedAt = now
		}
		rs.putRecord(srec)
		res, msg := rs.manualValidation(j, id, sid, srec.Attempt, in)
		srec = rs.record(sid)
		srec.State, srec.Result, srec.FinishedAt = store.StateCompleted, res, rs.e.clock.Now()
		srec.Issues, srec.ErrorCount = nil, 0
		if res == store.ResultFailed {
			srec.Issues, srec.ErrorCount = []store.Issue{{Type: store.IssueError, Message: msg}}, 1
			issues = append(issues, store.Issue{Type: store.IssueError, Message: msg})
		}
		rs.putRecord(srec)
		status = foldStep(status, res, s.ContinueOnError)
	}
	if status == store.ResultFailed && j.ContinueOnError {
		status = store.ResultSucceededWithIssues
	}
	rec = rs.record(id)
	rec.State, rec.Result, rec.FinishedAt = store.StateCompleted, status, rs.e.clock.Now()
	rec.Issues, rec.ErrorCount = issues, len(issues)
	rs.putRecord(rec)
	return jobInfo{Result: status, Outputs: map[string]string{}}
}

// foldStep folds a step's result into its job's status.
func foldStep(status, res store.Result, continueOnError bool) store.Result {
	switch res {
	case store.ResultFailed:
		if continueOnError {
			return worse(status, store.ResultSucceededWithIssues)
		}
		if status != store.ResultCanceled {
			return store.ResultFailed
		}
	case store.ResultSucceededWithIssues, store.ResultCanceled:
		return worse(status, res)
	}
	return status
}

// manualValidation asks for the approval a ManualValidation step needs and
// waits for it; the job's timeoutInMinutes (default 60) is its timeout.
func (rs *runState) manualValidation(j plan.Job, jobID, stepID string, attempt int, inputs map[string]string) (store.Result, string) {
	ctx := context.WithoutCancel(rs.ctx)
	lw, err := rs.e.store.OpenLog(ctx, rs.run.ID, stepID, attempt)
	if err != nil {
		return store.ResultFailed, "infrastructure: " + err.Error()
	}
	logf := func(format string, a ...any) {
		text := rs.mask(fmt.Sprintf(format, a...))
		ts := rs.e.clock.Now()
		if err := lw.WriteLine(ts, text); err != nil {
			rs.e.log.Error("write step log", slog.String("run", rs.run.ID), slog.String("step", stepID), slog.Any("err", err))
		}
		rs.e.observer.Line(rs.record(stepID), ts, text)
	}
	defer func() {
		if err := lw.Close(); err != nil {
			rs.e.log.Error("close step log", slog.String("run", rs.run.ID), slog.String("step", stepID), slog.Any("err", err))
		}
	}()
	mv, err := task.ParseManualValidation(inputs)
	if err != nil {
		logf("##[error]%v", err)
		return store.ResultFailed, err.Error()
	}
	if rs.e.approvals == nil {
		msg := "ManualValidation needs approvals, which this runner does not keep: run the pipeline on a Conveyor server"
		logf("##[error]%s", msg)
		return store.ResultFailed, msg
	}
	minutes := j.TimeoutInMinutes
	switch {
	case j.NoTimeout:
		minutes = 30 * 24 * 60 // ManualValidation: an agentless job with timeoutInMinutes: 0 waits up to 30 days
	case minutes <= 0:
		minutes = defaultJobMinutes
	}
	policy := store.ApprovalPolicy{Approvers: mv.Approvers, MinApprovers: 1, RequesterCannotApprove: !mv.AllowApproversToApproveTheirOwnRuns,
		Instructions: mv.Instructions, NotifyUsers: mv.NotifyUsers, Timeout: time.Duration(minutes) * time.Minute, OnTimeout: mv.OnTimeout}
	a, err := rs.e.approvals.Request(ctx, approval.Request{RunID: rs.run.ID, Gate: stepID, Kind: store.ApprovalKindManualValidation,
		Requester: rs.in.RequestedFor, Policy: policy})
	if err != nil {
		return store.ResultFailed, "ask approval: infrastructure: " + err.Error()
	}
	if mv.Instructions != "" {
		logf("%s", mv.Instructions)
	}
	who := "anyone"
	if len(mv.Approvers) > 0 {
		who = strings.Join(mv.Approvers, ", ")
	}
	logf("Waiting for approval %s from %s (timeout %d minutes, then %s): conveyor approve %s", a.ID, who, minutes, mv.OnTimeout, rs.run.ID)
	v, err := rs.await([]string{jobID, stepID}, func(ctx context.Context) (approval.Verdict, error) {
		v, _, err := rs.e.approvals.Check(ctx, a.ID)
		return v, err
	})
	if err != nil {
		logf("##[error]%v", err)
		return store.ResultFailed, "check approval: infrastructure: " + err.Error()
	}
	logf("%s", v.Message)
	switch v.Status {
	case approval.Passed:
		return store.ResultSucceeded, ""
	case approval.Canceled:
		return store.ResultCanceled, v.Message
	}
	return store.ResultFailed, v.Message
}
