package trigger

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWebhookSignatures(t *testing.T) {
	for _, provider := range Providers {
		t.Run(provider, func(t *testing.T) {
			f := newFixture(t)
			head := f.repo.head()
			before := f.repo.commit("second", map[string]string{"src/app.go": "package app // 2\n"})
			after := f.repo.commit("third", map[string]string{"src/app.go": "package app // 3\n"})
			_ = head
			push := func(id string) delivery {
				return pushDelivery(provider, id, f.repo.dir, "refs/heads/main", before, after, []string{"src/app.go"})
			}
			tests := []struct {
				name       string
				d          delivery
				wantStatus int
				wantState  string
				wantRuns   int
			}{
				{"missing signature", push("d1"), http.StatusUnauthorized, "error", 0},
				{"bad signature", push("d1").sign("wrong"), http.StatusUnauthorized, "error", 0},
				{"valid", push("d1").sign(testSecret), http.StatusAccepted, "accepted", 1},
				{"replay", push("d1").sign(testSecret), http.StatusOK, "duplicate", 0},
				{"next delivery", push("d2").sign(testSecret), http.StatusAccepted, "accepted", 1},
			}
			if provider == "azure-repos" {
				// Azure's shared secret may also come as a header.
				d := push("d3")
				d.header.Set(AzureSecretHeader, testSecret)
				tests = append(tests, struct {
					name       string
					d          delivery
					wantStatus int
					wantState  string
					wantRuns   int
				}{"secret header", d, http.StatusAccepted, "accepted", 1})
			} else {
				// A signature over another body does not pass.
				d := push("d3").sign(testSecret)
				d.body = append(d.body, ' ')
				tests = append(tests, struct {
					name       string
					d          delivery
					wantStatus int
					wantState  string
					wantRuns   int
				}{"tampered body", d, http.StatusUnauthorized, "error", 0})
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					status, resp := f.send(t, tt.d)
					got := f.rec.take()
					if status != tt.wantStatus || resp.Status != tt.wantState || len(got) != tt.wantRuns {
						t.Fatalf("got %d %q with %d runs (%s), want %d %q with %d runs", status, resp.Status, len(got), resp.Error, tt.wantStatus, tt.wantState, tt.wantRuns)
					}
					if tt.wantRuns == 1 {
						want := Request{Repository: "webapp", Pipeline: "ci", File: "ci.yml", Event: "push", Commit: after,
							Branch: "refs/heads/main", Title: "change", DeliveryID: got[0].DeliveryID}
						want.Requester, want.Reason = got[0].Requester, got[0].Reason
						if provider == "azure-repos" {
							want.Title = "change"
						}
						if diff := cmp.Diff(want, got[0]); diff != "" {
							t.Errorf("request (-want +got):\n%s", diff)
						}
					}
				})
			}
		})
	}
}

func TestWebhookUnknownRepositoryAndNoSecret(t *testing.T) {
	f := newFixture(t)
	head := f.repo.head()
	d := pushDelivery("github", "x", "https://example.com/other/repo.git", "refs/heads/main", head, head, nil)
	d.body = []byte(strings.Replace(string(d.body), "ann/webapp", "other/repo", 1))
	if status, resp := f.send(t, d.sign(testSecret)); status != http.StatusNotFound || !strings.Contains(resp.Error, "add it under repositories") {
		t.Errorf("unknown repository: got %d %q", status, resp.Error)
	}
	f.cfg.Repositories[0].WebhookSecret = ""
	d = pushDelivery("github", "y", f.repo.dir, "refs/heads/main", head, head, nil)
	if status, resp := f.send(t, d.sign("")); status != http.StatusUnauthorized || !strings.Contains(resp.Error, "no webhookSecret") {
		t.Errorf("no secret: got %d %q", status, resp.Error)
	}
	if got := f.rec.take(); len(got) != 0 {
		t.Errorf("started %d runs, want none", len(got))
	}
}

func TestWebhookPingIsIgnored(t *testing.T) {
	f := newFixture(t)
	d := delivery{"github", http.Header{"X-Github-Event": {"ping"}, "X-Github-Delivery": {"p"}},
		mustJSON(map[string]any{"zen": "hi", "repository": map[string]any{"full_name": "ann/webapp", "clone_url": f.repo.dir}})}
	if status, resp := f.send(t, d.sign(testSecret)); status != http.StatusOK || resp.Status != "ignored" {
		t.Errorf("ping: got %d %q", status, resp.Status)
	}
}

// started returns the pipelines of the requests, in order.
func started(reqs []Request) []string {
	out := []string{}
	for _, r := range reqs {
		out = append(out, r.Pipeline)
	}
	return out
}

func TestFilters(t *testing.T) {
	f := newFixture(t)
	base := f.repo.head()
	code := f.repo.commit("code", map[string]string{"src/app.go": "package app // 2\n"})
	docs := f.repo.commit("docs", map[string]string{"docs/readme.md": "# more docs\n"})
	f.repo.checkout("-b", "feature", base)
	feature := f.repo.commit("feature", map[string]string{"src/feature.go": "package app\n"})
	featureDocs := f.repo.commit("feature docs", map[string]string{"docs/feature.md": "x\n"})
	f.repo.checkout("-b", "releases/1.0", base)
	rel := f.repo.commit("release", map[string]string{"src/app.go": "package app // rel\n"})
	f.repo.checkout("-b", "releases/old", base)
	old := f.repo.commit("old release", map[string]string{"src/app.go": "package app // old\n"})
	f.repo.checkout("main")
	gitCmd(t, f.repo.dir, "tag", "v1.0", code)
	gitCmd(t, f.repo.dir, "tag", "nope", code)
	zero := strings.Repeat("0", 40)

	tests := []struct {
		name string
		d    delivery
		want []string
	}{
		{"push main code (payload paths)", pushDelivery("github", "1", f.repo.dir, "refs/heads/main", base, code, []string{"src/app.go"}), []string{"ci"}},
		{"push main code (git diff)", pushDelivery("azure-repos", "2", f.repo.dir, "refs/heads/main", base, code, nil), []string{"ci"}},
		{"push main docs only", pushDelivery("gitea", "3", f.repo.dir, "refs/heads/main", code, docs, nil), []string{}},
		{"push feature", pushDelivery("github", "4", f.repo.dir, "refs/heads/feature", base, feature, nil), []string{}},
		{"push releases/1.0", pushDelivery("github", "5", f.repo.dir, "refs/heads/releases/1.0", base, rel, nil), []string{"ci"}},
		{"push releases/old excluded", pushDelivery("github", "6", f.repo.dir, "refs/heads/releases/old", base, old, nil), []string{}},
		{"tag v1.0", pushDelivery("github", "7", f.repo.dir, "refs/tags/v1.0", zero, code, nil), []string{"ci"}},
		{"tag nope", pushDelivery("github", "8", f.repo.dir, "refs/tags/nope", zero, code, nil), []string{}},
		{"branch deleted", pushDelivery("github", "9", f.repo.dir, "refs/heads/feature", feature, zero, nil), []string{}},
		{"pr into main", prDelivery("github", "10", f.repo.dir, ActionOpened, 7, feature, "feature", "main", false), []string{"pr"}},
		{"gitea pr into main", prDelivery("gitea", "11", f.repo.dir, ActionOpened, 7, feature, "feature", "main", false), []string{"pr"}},
		{"azure pr into main", prDelivery("azure-repos", "12", f.repo.dir, ActionOpened, 7, feature, "feature", "main", false), []string{"pr"}},
		{"draft pr", prDelivery("github", "13", f.repo.dir, ActionOpened, 7, feature, "feature", "main", true), []string{}},
		{"pr into a release branch", prDelivery("github", "14", f.repo.dir, ActionOpened, 8, feature, "feature", "releases/1.0", false), []string{}},
		{"pr changing only docs", prDelivery("github", "15", f.repo.dir, ActionOpened, 9, featureDocs, "feature", "main", false), []string{"pr"}},
		{"pr edited", prDelivery("github", "16", f.repo.dir, "edited", 7, feature, "feature", "main", false), []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, resp := f.send(t, tt.d.sign(testSecret))
			if status >= 300 {
				t.Fatalf("got %d: %+v", status, resp)
			}
			if diff := cmp.Diff(tt.want, started(f.rec.take())); diff != "" {
				t.Errorf("started pipelines (-want +got):\n%s\nanswer: %+v", diff, resp)
			}
		})
	}
}

func TestPRDocsOnlyIsFiltered(t *testing.T) {
	f := newFixture(t)
	base := f.repo.head()
	f.repo.checkout("-b", "docs-only", base)
	docs := f.repo.commit("docs", map[string]string{"docs/x.md": "x\n"})
	f.repo.checkout("main")
	status, resp := f.send(t, prDelivery("github", "1", f.repo.dir, ActionOpened, 3, docs, "docs-only", "main", false).sign(testSecret))
	if status >= 300 {
		t.Fatalf("got %d: %+v", status, resp)
	}
	if got := started(f.rec.take()); len(got) != 0 {
		t.Errorf("a PR changing only docs/ started %v, want nothing (paths exclude docs)", got)
	}
}

func TestPullRequestRequest(t *testing.T) {
	f := newFixture(t)
	base := f.repo.head()
	f.repo.checkout("-b", "feature", base)
	head := f.repo.commit("feature", map[string]string{"src/feature.go": "package app\n"})
	f.repo.checkout("main")
	f.send(t, prDelivery("gitea", "g1", f.repo.dir, ActionOpened, 4, head, "feature", "main", false).sign(testSecret))
	got := f.rec.take()
	want := []Request{{Repository: "webapp", Pipeline: "pr", File: "pr.yml", Event: "pr", Commit: head,
		Branch: "refs/heads/feature", TargetBranch: "refs/heads/main", PullRequest: 4, Title: "a change",
		Requester: "ann", Reason: "pull request 4 opened by ann", DeliveryID: "g1"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestAutoCancel(t *testing.T) {
	f := newFixture(t)
	base := f.repo.head()
	f.repo.checkout("-b", "feature", base)
	first := f.repo.commit("one", map[string]string{"src/a.go": "package app\n"})
	second := f.repo.commit("two", map[string]string{"src/b.go": "package app\n"})
	f.repo.checkout("main")
	f.send(t, prDelivery("github", "a", f.repo.dir, ActionOpened, 5, first, "feature", "main", false).sign(testSecret))
	_, resp := f.send(t, prDelivery("github", "b", f.repo.dir, ActionSynchronize, 5, second, "feature", "main", false).sign(testSecret))
	if resp.Canceled != 1 {
		t.Errorf("canceled = %d, want 1", resp.Canceled)
	}
	_, resp = f.send(t, prDelivery("github", "c", f.repo.dir, ActionClosed, 5, second, "feature", "main", false).sign(testSecret))
	if diff := cmp.Diff([]string{"pr", "pr"}, started(f.rec.take())); diff != "" {
		t.Errorf("started (-want +got):\n%s", diff)
	}
	want := []string{`webapp/pr#5 except "run-1"`, `webapp/pr#5 except "run-2"`, `webapp/pr#5 except ""`}
	if diff := cmp.Diff(want, f.rec.cancels); diff != "" {
		t.Errorf("cancels (-want +got):\n%s", diff)
	}

	// autoCancel: false keeps superseded runs.
	f.repo.checkout("feature")
	third := f.repo.commit("no autocancel", map[string]string{"pr.yml": strings.Replace(testPipelines["pr.yml"], "drafts: false", "drafts: false\n  autoCancel: false", 1)})
	f.repo.checkout("main")
	f.rec.cancels = nil
	f.send(t, prDelivery("github", "d", f.repo.dir, ActionSynchronize, 5, third, "feature", "main", false).sign(testSecret))
	if len(f.rec.cancels) != 0 || len(f.rec.take()) != 1 {
		t.Errorf("autoCancel false: cancels %v, want none and one run", f.rec.cancels)
	}
}

func TestBatch(t *testing.T) {
	f := newFixture(t)
	base := f.repo.head()
	batched := f.repo.commit("batch", map[string]string{"ci.yml": strings.Replace(testPipelines["ci.yml"], "trigger:\n", "trigger:\n  batch: true\n", 1)})
	c2 := f.repo.commit("two", map[string]string{"src/app.go": "package app // 2\n"})
	c3 := f.repo.commit("three", map[string]string{"src/app.go": "package app // 3\n"})

	// No run in progress: a batched push starts at once.
	f.send(t, pushDelivery("github", "1", f.repo.dir, "refs/heads/main", base, batched, nil).sign(testSecret))
	if got := started(f.rec.take()); len(got) != 1 {
		t.Fatalf("started %v, want ci", got)
	}
	// While it runs, two pushes wait; only the newest starts when it ends.
	f.rec.active = true
	_, r2 := f.send(t, pushDelivery("github", "2", f.repo.dir, "refs/heads/main", batched, c2, nil).sign(testSecret))
	_, r3 := f.send(t, pushDelivery("github", "3", f.repo.dir, "refs/heads/main", c2, c3, nil).sign(testSecret))
	if len(f.rec.take()) != 0 || len(r2.Batched) != 1 || len(r3.Batched) != 1 {
		t.Fatalf("pushes during a run were not batched: %+v %+v", r2, r3)
	}
	f.rec.active = false
	out, err := f.d.Finished(t.Context(), CompletedRun{Repository: "webapp", Pipeline: "ci", RunID: "run-1", Branch: "refs/heads/main", Commit: batched, Result: "failed"})
	if err != nil {
		t.Fatal(err)
	}
	got := f.rec.take()
	if len(got) != 1 || got[0].Commit != c3 || len(out.Started) != 1 {
		t.Fatalf("after the run: started %+v, want ci at %s", got, c3)
	}
	// Nothing is left waiting.
	if _, err := f.d.Finished(t.Context(), CompletedRun{Repository: "webapp", Pipeline: "ci", RunID: "run-2", Branch: "refs/heads/main", Commit: c3, Result: "failed"}); err != nil {
		t.Fatal(err)
	}
	if got := f.rec.take(); len(got) != 0 {
		t.Errorf("second finish started %d runs, want none", len(got))
	}
}

func TestCompletionRequests(t *testing.T) {
	f := newFixture(t)
	head := f.repo.head()
	run := CompletedRun{Repository: "webapp", Pipeline: "ci", RunID: "01J", RunName: "20260101.1", Branch: "refs/heads/main",
		Commit: head, Result: "succeeded", Requester: "ann"}
	got, err := f.d.CompletionRequests(t.Context(), run)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if !hasCommit(t.Context(), got[i].GitDir, head) {
			t.Errorf("request %d: GitDir %q lacks the commit %s", i, got[i].GitDir, head)
		}
		got[i].GitDir = ""
	}
	want := []Request{{Repository: "webapp", Pipeline: "cd", File: "cd.yml", Event: "pipeline", Commit: head,
		Branch: "refs/heads/main", Title: "ci 20260101.1 completed", Requester: "ann", Reason: "pipeline ci run 01J succeeded",
		Resources: map[string]PipelineResource{"build": {Repository: "webapp", Pipeline: "ci", RunID: "01J", RunName: "20260101.1",
			SourceBranch: "refs/heads/main", SourceCommit: head, RequestedFor: "ann"}}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		name string
		edit func(*CompletedRun)
	}{
		{"failed", func(r *CompletedRun) { r.Result = "failed" }},
		{"other branch", func(r *CompletedRun) { r.Branch = "refs/heads/feature" }},
		{"other pipeline", func(r *CompletedRun) { r.Pipeline = "pr" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := run
			tt.edit(&r)
			got, err := f.d.CompletionRequests(t.Context(), r)
			if err != nil || len(got) != 0 {
				t.Errorf("got %v, %v; want no requests", got, err)
			}
		})
	}
	wantVars := map[string]string{
		"resources.pipeline.build.pipelineName": "ci", "resources.pipeline.build.runID": "01J",
		"resources.pipeline.build.runName": "20260101.1", "resources.pipeline.build.sourceBranch": "refs/heads/main",
		"resources.pipeline.build.sourceCommit": head, "resources.pipeline.build.requestedFor": "ann",
		"resources.pipeline.build.projectName": "webapp", "resources.pipeline.build.projectID": "webapp",
		"resources.pipeline.build.pipelineID": "webapp/ci", "resources.pipeline.build.runURI": "conveyor:///runs/01J",
		"resources.pipeline.build.sourceProvider": "git", "resources.pipeline.build.requestedForID": "ann",
	}
	if diff := cmp.Diff(wantVars, ResourceVariables(got[0])); diff != "" {
		t.Errorf("resource variables (-want +got):\n%s", diff)
	}
	out, err := f.d.Finished(t.Context(), run)
	if err != nil || len(out.Started) != 1 || out.Started[0].Pipeline != "cd" {
		t.Errorf("Finished = %+v, %v; want cd started", out, err)
	}
}

func TestManual(t *testing.T) {
	f := newFixture(t)
	got, err := f.d.Manual(t.Context(), "webapp", "ci", "", "bob", map[string]string{"x": "1"})
	if err != nil {
		t.Fatal(err)
	}
	want := Request{Repository: "webapp", Pipeline: "ci", File: "ci.yml", Event: "manual", Commit: f.repo.head(),
		Branch: "refs/heads/main", Requester: "bob", Reason: "manual run by bob", Variables: map[string]string{"x": "1"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	if _, err := f.d.Manual(t.Context(), "webapp", "nope", "", "bob", nil); err == nil || !strings.Contains(err.Error(), "no pipeline") {
		t.Errorf("unknown pipeline: %v", err)
	}
}
