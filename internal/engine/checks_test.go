package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/approval"
	"conveyor.dev/conveyor/internal/engine"
	"conveyor.dev/conveyor/internal/executor/local"
	"conveyor.dev/conveyor/internal/plan"
	"conveyor.dev/conveyor/internal/store"
)

// fakeClock is a clock the test moves; WakeAt channels close when the time
// reaches them.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan struct{}
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) WakeAt(t time.Time) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan struct{})
	if !c.now.Before(t) {
		close(ch)
		return ch
	}
	c.waiters = append(c.waiters, waiter{t, ch})
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if c.now.Before(w.at) {
			kept = append(kept, w)
		} else {
			close(w.ch)
		}
	}
	c.waiters = kept
}

// watcher is an Observer the test waits on: it keeps the latest record of
// each run and tells of every change.
type watcher struct {
	mu      sync.Mutex
	recs    map[string]store.Record // run/id → latest
	changed chan struct{}
}

func newWatcher() *watcher {
	return &watcher{recs: map[string]store.Record{}, changed: make(chan struct{})}
}

func (w *watcher) RunChanged(store.Run) {}
func (w *watcher) RecordChanged(rec store.Record) {
	w.mu.Lock()
	w.recs[rec.RunID+"/"+rec.ID] = rec
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}
func (w *watcher) Line(store.Record, time.Time, string) {}

// waitState waits until the record id of run is in state.
func (w *watcher) waitState(t *testing.T, run, id string, state store.State) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		w.mu.Lock()
		rec, ch := w.recs[run+"/"+id], w.changed
		w.mu.Unlock()
		if rec.State == state {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("record %s of run %s: state %q, want %s (guard timeout)", id, run, rec.State, state)
		}
	}
}

// checkHarness runs plans with environments, approvals and a fake clock.
type checkHarness struct {
	*harness
	dbPath string
	clock  *fakeClock
	svc    *approval.Service
	watch  *watcher
	envs   map[string]approval.Checks
	users  approval.Users
}

func newCheckHarness(t *testing.T, envs map[string]approval.Checks) *checkHarness {
	t.Helper()
	h := &checkHarness{harness: &harness{t: t, data: t.TempDir()}, clock: newFakeClock(), watch: newWatcher(), envs: envs,
		users: approval.Users{"alice": {"release-team"}, "bob": {"release-team"}, "dave": nil}}
	h.dbPath = filepath.Join(t.TempDir(), "conveyor.db")
	st, err := store.Open(t.Context(), h.dbPath, store.WithClock(h.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h.st = st
	h.repo, h.commit = newRepo(t, nil)
	h.svc, h.eng = h.newEngine(st, st)
	return h
}

// newEngine makes an engine and approval service on stores for the
// engine (es) and the service (as).
func (h *checkHarness) newEngine(es engine.Store, as approval.Store) (*approval.Service, *engine.Engine) {
	t := h.t
	svc, err := approval.NewService(as, approval.WithClock(h.clock), approval.WithPoll(0), approval.WithUsers(h.users))
	if err != nil {
		t.Fatal(err)
	}
	ex, err := local.New(h.data)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(es, ex, engine.WithClock(h.clock), engine.WithApprovals(svc), engine.WithEnvironments(h.envs),
		engine.WithObserver(h.watch), engine.WithRetryDelay(func(int) time.Duration { return 0 }))
	if err != nil {
		t.Fatal(err)
	}
	return svc, eng
}

func (h *checkHarness) start(p *plan.Plan, branch string) *engine.Started {
	h.t.Helper()
	in := h.input()
	in.Branch, in.RequestedFor = branch, "alice"
	s, err := h.eng.Start(h.t.Context(), p, in)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *checkHarness) records(runID string) map[string]store.Record {
	h.t.Helper()
	recs, err := h.st.ListRecords(context.Background(), runID)
	if err != nil {
		h.t.Fatal(err)
	}
	m := map[string]store.Record{}
	for _, r := range recs {
		if old, ok := m[r.ID]; !ok || r.Attempt > old.Attempt {
			m[r.ID] = r
		}
	}
	return m
}

func (h *checkHarness) pending(runID string) store.Approval {
	h.t.Helper()
	as, err := h.svc.Pending(h.t.Context(), runID)
	if err != nil || len(as) != 1 {
		h.t.Fatalf("pending approvals of %s: %+v, %v; want one", runID, as, err)
	}
	return as[0]
}

func (h *checkHarness) auditActions(runID string) []string {
	h.t.Helper()
	es, err := h.svc.Audit(h.t.Context(), store.AuditFilter{RunID: runID})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Actor+" "+e.Action)
	}
	return out
}

func deployJob(name, env string, steps ...plan.Step) plan.Job {
	return plan.Job{Name: name, Kind: plan.KindDeployment, Environment: &plan.Environment{Name: env}, Strategy: "runOnce",
		Hooks: []plan.Hook{{Name: plan.HookDeploy, Steps: steps}}}
}

// buildAndDeploy is a plan whose Build stage pushes an "image" (an output
// named imageDigest) and whose Deploy stage deploys it to env.
func buildAndDeploy(env string, deploySteps ...plan.Step) *plan.Plan {
	if len(deploySteps) == 0 {
		deploySteps = []plan.Step{script("apply", "echo deploying")}
	}
	return &plan.Plan{File: "cd.yml", Stages: []plan.Stage{
		{Name: "Build", Jobs: []plan.Job{job("Push", script("push", "echo '##vso[task.setvariable variable=imageDigest;isOutput=true]sha256:abc'"))}},
		{Name: "Deploy", DependsOn: []string{"Build"}, Jobs: []plan.Job{deployJob("D", env, deploySteps...)}},
	}}
}

func TestEnvironmentApprovalWaitsAndReleases(t *testing.T) {
	h := newCheckHarness(t, map[string]approval.Checks{"production": {Approvals: &approval.Approvals{
		Approvers: []string{"ops-lead", "release-team"}, MinApprovers: 2, RequesterCannotApprove: true}}})
	s := h.start(buildAndDeploy("production"), "main")
	h.watch.waitState(t, s.RunID, "Deploy", store.StateWaiting)
	r, err := h.st.GetRun(t.Context(), s.RunID)
	if err != nil || r.State != store.StateWaiting {
		t.Fatalf("run state %s, %v; want waiting", r.State, err)
	}
	a := h.pending(s.RunID)
	if diff := cmp.Diff(map[string]string{"Build.Push.push.imageDigest": "sha256:abc"}, a.Release.Digests); diff != "" {
		t.Errorf("approval releases (-want +got):\n%s", diff)
	}
	if rec := h.records(s.RunID)["Deploy.D"]; rec.State != store.StateQueued {
		t.Errorf("deployment job %s before approval, want queued", rec.State)
	}
	ctx := t.Context()
	if _, err := h.svc.Decide(ctx, a.ID, "alice", store.DecisionApprove, ""); !errors.Is(err, approval.ErrRequesterCannotApprove) {
		t.Errorf("approval by the requester: %v", err)
	}
	if _, err := h.svc.Decide(ctx, a.ID, "dave", store.DecisionApprove, ""); !errors.Is(err, approval.ErrNotApprover) {
		t.Errorf("approval by a stranger: %v", err)
	}
	if got, err := h.svc.Decide(ctx, a.ID, "bob", store.DecisionApprove, "via release-team"); err != nil || got.State != store.ApprovalPending {
		t.Fatalf("first approval: %s, %v", got.State, err)
	}
	if got, err := h.svc.Decide(ctx, a.ID, "ops-lead", store.DecisionApprove, ""); err != nil || got.State != store.ApprovalApproved {
		t.Fatalf("second approval: %s, %v", got.State, err)
	}
	out := s.Wait()
	if out.Result != store.ResultSucceeded {
		t.Fatalf("run %s, records %+v", out.Result, h.records(s.RunID))
	}
	recs := h.records(s.RunID)
	if d, st := recs["Deploy.D"], recs["Deploy"]; d.Result != store.ResultSucceeded || st.Result != store.ResultSucceeded {
		t.Errorf("deploy job %s, stage %s", d.Result, st.Result)
	}
	if diff := cmp.Diff([]string{
		"conveyor approval.requested", "alice approval.refused", "dave approval.refused",
		"bob approval.approve", "ops-lead approval.approve", "conveyor approval.approved",
	}, h.auditActions(s.RunID)); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func TestEnvironmentRejectionFailsTheStage(t *testing.T) {
	h := newCheckHarness(t, map[string]approval.Checks{"production": {Approvals: &approval.Approvals{Approvers: []string{"dave"}}}})
	s := h.start(buildAndDeploy("production"), "main")
	h.watch.waitState(t, s.RunID, "Deploy", store.StateWaiting)
	a := h.pending(s.RunID)
	if _, err := h.svc.Decide(t.Context(), a.ID, "dave", store.DecisionReject, "not today"); err != nil {
		t.Fatal(err)
	}
	out := s.Wait()
	recs := h.records(s.RunID)
	if out.Result != store.ResultFailed || recs["Deploy"].Result != store.ResultFailed || recs["Deploy.D"].Result != store.ResultSkipped {
		t.Fatalf("run %s, stage %s, job %s", out.Result, recs["Deploy"].Result, recs["Deploy.D"].Result)
	}
	if is := recs["Deploy"].Issues; len(is) != 1 || is[0].Message != "approval of environment production for Deploy rejected by dave (dave: not today)" {
		t.Errorf("stage issues %+v", is)
	}
}

func TestEnvironmentApprovalTimeout(t *testing.T) {
	for _, tc := range []struct {
		onTimeout string
		want      store.Result
	}{{"reject", store.ResultFailed}, {"resume", store.ResultSucceeded}} {
		t.Run(tc.onTimeout, func(t *testing.T) {
			h := newCheckHarness(t, map[string]approval.Checks{"production": {Approvals: &approval.Approvals{
				Approvers: []string{"dave"}, Timeout: 30 * time.Minute, OnTimeout: tc.onTimeout}}})
			s := h.start(buildAndDeploy("production"), "main")
			h.watch.waitState(t, s.RunID, "Deploy", store.StateWaiting)
			h.clock.Advance(29 * time.Minute)
			h.clock.Advance(time.Minute)
			out := s.Wait()
			if out.Result != tc.want {
				t.Fatalf("run %s, want %s; records %+v", out.Result, tc.want, h.records(s.RunID)["Deploy"])
			}
			if got := h.auditActions(s.RunID); !slices.Contains(got, "conveyor approval.timedOut") {
				t.Errorf("audit %v has no timeout", got)
			}
		})
	}
}

func TestBranchControl(t *testing.T) {
	h := newCheckHarness(t, map[string]approval.Checks{"production": {BranchControl: &approval.BranchControl{
		AllowedBranches: []string{"refs/heads/main", "refs/heads/release/*"}}}})
	for _, tc := range []struct {
		branch string
		want   store.Result
		msg    string
	}{
		{"release/1.2", store.ResultSucceeded, ""},
		{"feature/x", store.ResultFailed, "environment production: branch refs/heads/feature/x may not deploy here: the allowed branches are refs/heads/main, refs/heads/release/* (environments.production.checks.branchControl.allowedBranches in conveyor.yaml): deploy from one of them"},
	} {
		t.Run(tc.branch, func(t *testing.T) {
			s := h.start(buildAndDeploy("production"), tc.branch)
			out := s.Wait()
			recs := h.records(s.RunID)
			if out.Result != tc.want {
				t.Fatalf("run %s, want %s", out.Result, tc.want)
			}
			if tc.msg == "" {
				return
			}
			if is := recs["Deploy"].Issues; len(is) != 1 || is[0].Message != tc.msg {
				t.Errorf("stage issues %+v", is)
			}
			if recs["Deploy.D"].Result != store.ResultSkipped {
				t.Errorf("deploy job %s, want skipped", recs["Deploy.D"].Result)
			}
			if got := h.auditActions(s.RunID); !slices.Contains(got, "conveyor branchControl.refused") {
				t.Errorf("audit %v", got)
			}
		})
	}
}

// gate is a FIFO a step blocks on until the test opens it.
func gate(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gate")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// open lets one reader of the FIFO through.
func open(t *testing.T, fifo string) {
	t.Helper()
	if err := os.WriteFile(fifo, []byte("go\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestExclusiveLockSequential(t *testing.T) {
	h := newCheckHarness(t, map[string]approval.Checks{"production": {ExclusiveLock: &approval.ExclusiveLock{LockBehavior: "sequential"}}})
	fifo := gate(t)
	a := h.start(buildAndDeploy("production", script("apply", "read line < "+fifo)), "main")
	h.watch.waitState(t, a.RunID, "Deploy.D", store.StateRunning)
	b := h.start(buildAndDeploy("production"), "main")
	h.watch.waitState(t, b.RunID, "Deploy", store.StateWaiting)
	if rec := h.records(b.RunID)["Deploy.D"]; rec.State != store.StateQueued {
		t.Errorf("second run's deployment %s while the first holds the lock", rec.State)
	}
	open(t, fifo)
	if out := a.Wait(); out.Result != store.ResultSucceeded {
		t.Errorf("first run %s", out.Result)
	}
	if out := b.Wait(); out.Result != store.ResultSucceeded {
		t.Errorf("second run %s", out.Result)
	}
	ra, rb := h.records(a.RunID)["Deploy"], h.records(b.RunID)["Deploy.D"]
	if rb.StartedAt.Before(ra.FinishedAt) {
		t.Errorf("second deployment started %v before the first stage finished %v", rb.StartedAt, ra.FinishedAt)
	}
}

func TestExclusiveLockRunLatest(t *testing.T) {
	h := newCheckHarness(t, map[string]approval.Checks{"production": {ExclusiveLock: &approval.ExclusiveLock{LockBehavior: "runLatest"}}})
	fifo := gate(t)
	a := h.start(buildAndDeploy("production", script("apply", "read line < "+fifo)), "main")
	h.watch.waitState(t, a.RunID, "Deploy.D", store.StateRunning)
	b := h.start(buildAndDeploy("production"), "main")
	h.watch.waitState(t, b.RunID, "Deploy", store.StateWaiting)
	c := h.start(buildAndDeploy("production"), "main")
	h.watch.waitState(t, c.RunID, "Deploy", store.StateWaiting)
	outB := b.Wait()
	if outB.Result != store.ResultCanceled {
		t.Errorf("older waiting run %s, want canceled", outB.Result)
	}
	if rec := h.records(b.RunID)["Deploy"]; rec.Result != store.ResultCanceled || len(rec.Issues) == 0 || !strings.Contains(rec.Issues[0].Message, "runLatest") {
		t.Errorf("older run's stage: %s %+v", rec.Result, rec.Issues)
	}
	if got := h.auditActions(b.RunID); !slices.Contains(got, "conveyor lock.superseded") {
		t.Errorf("audit of the older run %v", got)
	}
	open(t, fifo)
	if out := a.Wait(); out.Result != store.ResultSucceeded {
		t.Errorf("first run %s", out.Result)
	}
	if out := c.Wait(); out.Result != store.ResultSucceeded {
		t.Errorf("latest run %s", out.Result)
	}
}

func manualValidation(inputs map[string]string) *plan.Plan {
	v := plan.Job{Name: "Validate", Kind: plan.KindJob, Pool: &plan.Pool{Server: true}, TimeoutInMinutes: 30,
		Steps: []plan.Step{{Kind: plan.StepTask, Name: "mv", Task: "ManualValidation@1", Inputs: inputs, Enabled: true}}}
	after := job("After", script("s", "echo after"))
	after.DependsOn = []string{"Validate"}
	return single(v, after)
}

func TestManualValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inputs map[string]string
		act    func(h *checkHarness, a store.Approval)
		want   store.Result
	}{
		{"approved", map[string]string{"notifyUsers": "bob", "approvers": "release-team", "instructions": "Check the staging site",
			"allowApproversToApproveTheirOwnRuns": "false"}, func(h *checkHarness, a store.Approval) {
			if _, err := h.svc.Decide(h.t.Context(), a.ID, "alice", store.DecisionApprove, ""); !errors.Is(err, approval.ErrRequesterCannotApprove) {
				h.t.Errorf("own run: %v", err)
			}
			if _, err := h.svc.Decide(h.t.Context(), a.ID, "bob", store.DecisionApprove, "ok"); err != nil {
				h.t.Fatal(err)
			}
		}, store.ResultSucceeded},
		{"rejected", map[string]string{"notifyUsers": "bob"}, func(h *checkHarness, a store.Approval) {
			if _, err := h.svc.Decide(h.t.Context(), a.ID, "alice", store.DecisionReject, "no"); err != nil {
				h.t.Fatal(err)
			}
		}, store.ResultFailed},
		{"timeout resumes", map[string]string{"notifyUsers": "bob", "onTimeout": "resume"}, func(h *checkHarness, a store.Approval) {
			h.clock.Advance(30 * time.Minute)
		}, store.ResultSucceeded},
		{"timeout rejects", map[string]string{"notifyUsers": "bob"}, func(h *checkHarness, a store.Approval) {
			h.clock.Advance(30 * time.Minute)
		}, store.ResultFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newCheckHarness(t, nil)
			s := h.start(manualValidation(tc.inputs), "main")
			h.watch.waitState(t, s.RunID, "__default.Validate", store.StateWaiting)
			a := h.pending(s.RunID)
			if a.Kind != store.ApprovalKindManualValidation || a.Gate != "__default.Validate.mv" || a.Policy.Timeout != 30*time.Minute {
				t.Errorf("approval %+v", a)
			}
			tc.act(h, a)
			out := s.Wait()
			recs := h.records(s.RunID)
			if out.Result != tc.want || recs["__default.Validate"].Result != tc.want {
				t.Fatalf("run %s, validate %s; want %s", out.Result, recs["__default.Validate"].Result, tc.want)
			}
			wantAfter := store.ResultSucceeded
			if tc.want == store.ResultFailed {
				wantAfter = store.ResultSkipped
			}
			if recs["__default.After"].Result != wantAfter {
				t.Errorf("job after %s, want %s", recs["__default.After"].Result, wantAfter)
			}
			log := strings.Join(h.log(s.RunID, "__default.Validate.mv", 1), "\n")
			if tc.inputs["instructions"] != "" && !strings.Contains(log, tc.inputs["instructions"]) {
				t.Errorf("step log lacks the instructions:\n%s", log)
			}
		})
	}
}

func TestManualValidationOutsideAgentlessJobFails(t *testing.T) {
	h := newHarness(t)
	out, recs := h.run(single(job("J", plan.Step{Kind: plan.StepTask, Name: "mv", Task: "ManualValidation@1", Enabled: true,
		Inputs: map[string]string{"notifyUsers": "bob"}}, script("s", "true"))))
	if out.Result != store.ResultFailed {
		t.Fatalf("run %s", out.Result)
	}
	if is := recs["__default.J.mv"].Issues; len(is) == 0 || !strings.Contains(is[0].Message, "pool: server") {
		t.Errorf("issues %+v", is)
	}
}
