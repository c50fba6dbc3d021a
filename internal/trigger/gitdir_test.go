package trigger

import (
	"net/http"
	"testing"
)

// TestRequestsSayWhereTheCommitIs: a request from a webhook names the
// local mirror that has its commit, so the server reads it from there
// instead of fetching it again.
func TestRequestsSayWhereTheCommitIs(t *testing.T) {
	f := newFixture(t)
	before := f.repo.head()
	after := f.repo.commit("change", map[string]string{"src/app.go": "package app // 2\n"})
	d := pushDelivery("gitea", "d-1", f.repo.dir, "refs/heads/main", before, after, []string{"src/app.go"}).sign(testSecret)
	if code, resp := f.send(t, d); code != http.StatusAccepted || len(resp.Started) != 1 {
		t.Fatalf("push: %d %+v", code, resp)
	}
	if len(f.rec.gitDirs) != 1 || f.rec.gitDirs[0] == "" {
		t.Fatalf("GitDir of the request = %q, want the trigger's mirror", f.rec.gitDirs)
	}
	if !hasCommit(t.Context(), f.rec.gitDirs[0], after) {
		t.Errorf("GitDir %s lacks the pushed commit %s", f.rec.gitDirs[0], after)
	}
}
