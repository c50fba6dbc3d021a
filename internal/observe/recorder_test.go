package observe_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"conveyor.dev/conveyor/internal/engine"
	"conveyor.dev/conveyor/internal/observe"
	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/store/storetest"
)

// TestRecorderWithEngine runs a CD pipeline on the real engine twice (the
// production deploy fails, then succeeds) and checks the outcomes stored,
// the metrics counted and the DORA report computed from them.
func TestRecorderWithEngine(t *testing.T) {
	st := storetest.NewTestStore(t)
	metrics := observe.NewMetrics(observe.WithoutProcessMetrics())
	rec := observe.NewRecorder(st, observe.WithRecorderMetrics(metrics))
	eng := newEngine(t, st, fanout{metrics, rec})
	repo, commit := newRepo(t)
	in := engine.Input{Pipeline: "cd", Repository: repo, Commit: commit, Branch: "main", Event: store.EventPush}

	first, err := eng.Run(t.Context(), compile(t, cdPipeline, map[string]string{"prodFails": "true"}), in)
	if err != nil {
		t.Fatal(err)
	}
	if first.Result != store.ResultFailed {
		t.Fatalf("first run: %s, want failed (its production deploy fails)", first.Result)
	}
	second, err := eng.Run(t.Context(), compile(t, cdPipeline, nil), in)
	if err != nil {
		t.Fatal(err)
	}
	if second.Result != store.ResultSucceeded {
		t.Fatalf("second run: %s, want succeeded", second.Result)
	}
	rec.Close()

	outs, err := st.ListDeployOutcomes(t.Context(), store.DeployOutcomeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range outs {
		got = append(got, o.Environment+" "+o.Job+" "+string(o.Status))
		if o.Pipeline != "cd" || o.Commit != commit || o.CommitAt.IsZero() || o.FinishedAt.Before(o.CommitAt) {
			t.Errorf("outcome %+v: want pipeline cd, the commit and its first run's time before the finish", o)
		}
	}
	want := "staging Staging.Web succeeded|production Production.Web failed|staging Staging.Web succeeded|production Production.Web succeeded"
	if strings.Join(got, "|") != want {
		t.Errorf("outcomes:\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}

	for _, c := range []struct {
		name   string
		value  float64
		labels []string
	}{
		{"deployments failed in production", 1, []string{"production", "cd", "failed"}},
		{"deployments succeeded in production", 1, []string{"production", "cd", "succeeded"}},
		{"deployments succeeded in staging", 2, []string{"staging", "cd", "succeeded"}},
	} {
		if v := testutil.ToFloat64(counterOf(t, metrics, "conveyor_deployments_total", c.labels)); v != c.value {
			t.Errorf("%s: %v, want %v", c.name, v, c.value)
		}
	}
	text := gatherText(t, metrics)
	for _, line := range []string{
		`conveyor_runs_started_total{pipeline="cd"} 2`,
		`conveyor_runs_finished_total{pipeline="cd",result="failed"} 1`,
		`conveyor_runs_finished_total{pipeline="cd",result="succeeded"} 1`,
		`conveyor_job_duration_seconds_count{pipeline="cd",result="failed"} 1`,
		`conveyor_job_duration_seconds_count{pipeline="cd",result="succeeded"} 5`,
		`conveyor_stage_duration_seconds_count{pipeline="cd",result="succeeded"} 5`,
		`conveyor_run_duration_seconds_count{pipeline="cd",result="succeeded"} 1`,
		`conveyor_run_first_step_latency_seconds_count 2`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("metrics lack %q:\n%s", line, text)
		}
	}

	r, err := observe.ReportDORA(t.Context(), st, observe.Query{Environment: "production", Window: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Environments) != 1 {
		t.Fatalf("report: %+v", r)
	}
	p := r.Environments[0]
	if p.Total != 2 || p.Failures != 1 || p.Deployments != 1 || p.ChangeFailureRate != 0.5 || p.TimeToRestore.Count != 1 || p.LeadTime.Count != 1 || p.Unrestored != 0 {
		t.Errorf("production DORA: %+v", p)
	}
	restore := outs[3].FinishedAt.Sub(outs[1].FinishedAt).Seconds()
	if p.TimeToRestore.MedianSeconds != restore {
		t.Errorf("time to restore %vs, want %vs (failed deploy to the next successful one)", p.TimeToRestore.MedianSeconds, restore)
	}
}

// TestRecorderReadsCommitTime: the lead time starts at the commit's date
// in git (three hours before the run here), not at the run.
func TestRecorderReadsCommitTime(t *testing.T) {
	repo, _ := newRepo(t)
	committed := time.Now().Add(-3 * time.Hour).UTC().Truncate(time.Second)
	amend := exec.Command("git", "commit", "-q", "--amend", "--no-edit")
	amend.Dir = repo
	amend.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_COMMITTER_DATE="+committed.Format(time.RFC3339))
	if out, err := amend.CombinedOutput(); err != nil {
		t.Fatalf("git commit --amend: %v\n%s", err, out)
	}
	commit := git(t, repo, "rev-parse", "HEAD")

	st := storetest.NewTestStore(t)
	rec := observe.NewRecorder(st, observe.WithCommitTime(func(ctx context.Context, repository, commit string) (time.Time, error) {
		return observe.GitCommitTime(ctx, repository, commit)
	}))
	eng := newEngine(t, st, rec)
	if _, err := eng.Run(t.Context(), compile(t, cdPipeline, nil), engineInput(repo, commit)); err != nil {
		t.Fatal(err)
	}
	rec.Close()
	outs, err := st.ListDeployOutcomes(t.Context(), store.DeployOutcomeFilter{Environment: "production"})
	if err != nil || len(outs) != 1 {
		t.Fatalf("outcomes %v, %v", outs, err)
	}
	if !outs[0].CommitAt.Equal(committed) {
		t.Errorf("CommitAt = %v, want the commit's date %v", outs[0].CommitAt, committed)
	}
	if _, err := observe.GitCommitTime(t.Context(), repo, "--output=x"); err == nil {
		t.Error("GitCommitTime accepted an option as a commit")
	}
}
