package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/approval"
	"conveyor.dev/conveyor/internal/plan"
	"conveyor.dev/conveyor/internal/store"
)

// mortal is a store that dies: after kill, every write fails, so the
// database keeps exactly what a process killed at that moment leaves.
type mortal struct {
	*store.SQLite
	dead atomic.Bool
}

var errDead = errors.New("the process is dead")

func (m *mortal) check() error {
	if m.dead.Load() {
		return errDead
	}
	return nil
}

func (m *mortal) CreateRun(ctx context.Context, r *store.Run) error {
	if err := m.check(); err != nil {
		return err
	}
	return m.SQLite.CreateRun(ctx, r)
}

func (m *mortal) UpdateRun(ctx context.Context, id string, fn func(*store.Run) error) error {
	if err := m.check(); err != nil {
		return err
	}
	return m.SQLite.UpdateRun(ctx, id, fn)
}

func (m *mortal) AddRunTag(ctx context.Context, id, tag string) error {
	if err := m.check(); err != nil {
		return err
	}
	return m.SQLite.AddRunTag(ctx, id, tag)
}

func (m *mortal) UpsertRecord(ctx context.Context, rec store.Record) error {
	if err := m.check(); err != nil {
		return err
	}
	return m.SQLite.UpsertRecord(ctx, rec)
}

func (m *mortal) OpenLog(ctx context.Context, runID, recordID string, attempt int) (store.LogWriter, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	return m.SQLite.OpenLog(ctx, runID, recordID, attempt)
}

func (m *mortal) SaveRunInput(ctx context.Context, runID string, in []byte) error {
	if err := m.check(); err != nil {
		return err
	}
	return m.SQLite.SaveRunInput(ctx, runID, in)
}

func (m *mortal) CreateApproval(ctx context.Context, a *store.Approval, ev store.AuditEntry) error {
	if err := m.check(); err != nil {
		return err
	}
	return m.SQLite.CreateApproval(ctx, a, ev)
}

func (m *mortal) UpdateApproval(ctx context.Context, id string, fn func(*store.Approval) (store.ApprovalChange, error)) error {
	if err := m.check(); err != nil {
		return err
	}
	return m.SQLite.UpdateApproval(ctx, id, fn)
}

func (m *mortal) AppendAudit(ctx context.Context, e store.AuditEntry) error {
	if err := m.check(); err != nil {
		return err
	}
	return m.SQLite.AppendAudit(ctx, e)
}

func (m *mortal) AcquireEnvLock(ctx context.Context, req store.LockRequest) (store.Lock, error) {
	if err := m.check(); err != nil {
		return store.Lock{}, err
	}
	return m.SQLite.AcquireEnvLock(ctx, req)
}

func (m *mortal) ReleaseEnvLock(ctx context.Context, env, runID, gate string) error {
	if err := m.check(); err != nil {
		return err
	}
	return m.SQLite.ReleaseEnvLock(ctx, env, runID, gate)
}

// crashable starts runs on an engine whose store dies on crash; crash
// kills it and stops its goroutines, leaving the database as a killed
// process would.
type crashable struct {
	h      *checkHarness
	m      *mortal
	cancel context.CancelFunc
	ctx    context.Context
}

func newCrashable(h *checkHarness) *crashable {
	c := &crashable{h: h, m: &mortal{SQLite: h.st}}
	c.ctx, c.cancel = context.WithCancel(h.t.Context())
	h.svc, h.eng = h.newEngine(c.m, c.m)
	return c
}

// reopen gives the harness a fresh store, approval service and engine on
// the same database file, as a restarted server has.
func (h *checkHarness) reopen() {
	h.t.Helper()
	st, err := store.Open(h.t.Context(), h.dbPath, store.WithClock(h.clock.Now))
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { st.Close() })
	h.st = st
	h.svc, h.eng = h.newEngine(st, st)
}

func TestResumeAfterCrashDuringJob(t *testing.T) {
	h := newCheckHarness(t, nil)
	c := newCrashable(h)
	fifo := gate(t)
	count := filepath.Join(t.TempDir(), "count")
	second := job("J2", script("s", "echo b >> "+count+"\necho \"x=$X attempt=$SYSTEM_JOBATTEMPT\"\nread line < "+fifo))
	second.Variables = []plan.Variable{{Name: "x", Value: "$[ stageDependencies.A.J1.outputs['s.out'] ]"}}
	p := &plan.Plan{File: "p.yml", Stages: []plan.Stage{
		{Name: "A", Jobs: []plan.Job{job("J1", script("s", "echo a >> "+count+".a\necho '##vso[task.setvariable variable=out;isOutput=true]hello'"))}},
		{Name: "B", DependsOn: []string{"A"}, Jobs: []plan.Job{second}},
	}}
	in := h.input()
	s, err := h.eng.Start(c.ctx, p, in)
	if err != nil {
		t.Fatal(err)
	}
	h.watch.waitLine(t, s.RunID, "B.J2.s", 1, "x=hello attempt=1")
	c.m.dead.Store(true)
	c.cancel()
	s.Wait()
	if rec := h.records(s.RunID)["B.J2"]; rec.State != store.StateRunning {
		t.Fatalf("after the crash the job is %s, want running", rec.State)
	}

	h.reopen()
	r, err := h.eng.Resume(t.Context(), s.RunID)
	if err != nil {
		t.Fatal(err)
	}
	h.watch.waitLine(t, s.RunID, "B.J2.s", 2, "x=hello attempt=2")
	open(t, fifo)
	out := r.Wait()
	if out.Result != store.ResultSucceeded {
		t.Fatalf("resumed run %s: %+v", out.Result, h.records(s.RunID))
	}
	all, err := h.st.ListRecords(t.Context(), s.RunID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rec := range all {
		got = append(got, fmt.Sprintf("%s#%d %s", rec.ID, rec.Attempt, rec.Result))
	}
	slices.Sort(got)
	if diff := cmp.Diff([]string{
		"A#1 succeeded", "A.J1#1 succeeded", "A.J1.s#1 succeeded",
		"B#1 succeeded", "B.J2#1 interrupted", "B.J2#2 succeeded", "B.J2.s#1 interrupted", "B.J2.s#2 succeeded",
	}, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"x=hello attempt=2"}, h.log(s.RunID, "B.J2.s", 2)); diff != "" {
		t.Errorf("log of the rerun (-want +got):\n%s", diff)
	}
	for file, want := range map[string]string{count + ".a": "a\n", count: "b\nb\n"} {
		if b, _ := os.ReadFile(file); string(b) != want {
			t.Errorf("%s = %q, want %q: completed jobs run once, the interrupted one twice", filepath.Base(file), b, want)
		}
	}
	run, _ := h.st.GetRun(t.Context(), s.RunID)
	if run.State != store.StateCompleted || run.Result != store.ResultSucceeded {
		t.Errorf("run %s %s", run.State, run.Result)
	}
	if _, err := h.eng.Resume(t.Context(), s.RunID); err == nil || !strings.Contains(err.Error(), "completed") {
		t.Errorf("resuming a completed run: %v", err)
	}
}

func TestResumeWaitingApproval(t *testing.T) {
	h := newCheckHarness(t, map[string]approval.Checks{"production": {Approvals: &approval.Approvals{Approvers: []string{"bob"}}}})
	c := newCrashable(h)
	count := filepath.Join(t.TempDir(), "count")
	p := buildAndDeploy("production")
	p.Stages[0].Jobs[0].Steps = append(p.Stages[0].Jobs[0].Steps, script("count", "echo a >> "+count))
	in := h.input()
	in.RequestedFor = "alice"
	s, err := h.eng.Start(c.ctx, p, in)
	if err != nil {
		t.Fatal(err)
	}
	h.watch.waitState(t, s.RunID, "Deploy", store.StateWaiting)
	before := h.pending(s.RunID)
	c.m.dead.Store(true)
	c.cancel()
	s.Wait()

	h.reopen()
	run, _ := h.st.GetRun(t.Context(), s.RunID)
	if run.State != store.StateWaiting {
		t.Fatalf("after the crash the run is %s, want waiting", run.State)
	}
	r, err := h.eng.Resume(t.Context(), s.RunID)
	if err != nil {
		t.Fatal(err)
	}
	h.watch.waitState(t, s.RunID, "Deploy", store.StateWaiting)
	after := h.pending(s.RunID)
	if after.ID != before.ID {
		t.Errorf("resumed run asked approval %s again; want it to keep waiting on %s", after.ID, before.ID)
	}
	if _, err := h.svc.Decide(t.Context(), after.ID, "bob", store.DecisionApprove, ""); err != nil {
		t.Fatal(err)
	}
	out := r.Wait()
	if out.Result != store.ResultSucceeded {
		t.Fatalf("resumed run %s: %+v", out.Result, h.records(s.RunID))
	}
	if b, _ := os.ReadFile(count); string(b) != "a\n" {
		t.Errorf("build ran %q times; want once", b)
	}
	if d := h.records(s.RunID)["Deploy.D"]; d.Result != store.ResultSucceeded || d.Attempt != 1 {
		t.Errorf("deployment %s attempt %d", d.Result, d.Attempt)
	}
}

func TestResumeWaitingManualValidation(t *testing.T) {
	h := newCheckHarness(t, nil)
	c := newCrashable(h)
	s, err := h.eng.Start(c.ctx, manualValidation(map[string]string{"notifyUsers": "bob"}), h.input())
	if err != nil {
		t.Fatal(err)
	}
	h.watch.waitState(t, s.RunID, "__default.Validate", store.StateWaiting)
	c.m.dead.Store(true)
	c.cancel()
	s.Wait()

	h.reopen()
	r, err := h.eng.Resume(t.Context(), s.RunID)
	if err != nil {
		t.Fatal(err)
	}
	h.watch.waitState(t, s.RunID, "__default.Validate", store.StateWaiting)
	a := h.pending(s.RunID)
	if _, err := h.svc.Decide(t.Context(), a.ID, "bob", store.DecisionApprove, ""); err != nil {
		t.Fatal(err)
	}
	if out := r.Wait(); out.Result != store.ResultSucceeded {
		t.Fatalf("resumed run %s: %+v", out.Result, h.records(s.RunID))
	}
	if v := h.records(s.RunID)["__default.Validate"]; v.Attempt != 1 || v.Result != store.ResultSucceeded {
		t.Errorf("validation %s attempt %d", v.Result, v.Attempt)
	}
}
