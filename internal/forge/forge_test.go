package forge

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/config"
)

func TestStatusOf(t *testing.T) {
	tests := []struct {
		state, result string
		want          State
	}{
		{"queued", "", StatePending},
		{"running", "", StatePending},
		{"waiting", "", StatePending},
		{"completed", "succeeded", StateSuccess},
		{"completed", "succeededWithIssues", StateSuccess},
		{"completed", "failed", StateFailure},
		{"completed", "canceled", StateError},
		{"completed", "interrupted", StateError},
	}
	for _, tt := range tests {
		t.Run(tt.state+"/"+tt.result, func(t *testing.T) {
			if got := StatusOf(tt.state, tt.result); got != tt.want {
				t.Errorf("StatusOf(%q, %q) = %q, want %q", tt.state, tt.result, got, tt.want)
			}
		})
	}
}

func TestOwnerRepo(t *testing.T) {
	tests := []struct{ url, want string }{
		{"https://github.com/ann/webapp.git", "ann/webapp"},
		{"http://127.0.0.1:3000/ann/webapp", "ann/webapp"},
		{"git@github.com:ann/webapp.git", "ann/webapp"},
		{"ssh://git@host:2222/ann/webapp.git", "ann/webapp"},
	}
	for _, tt := range tests {
		got, err := OwnerRepo(tt.url)
		if err != nil || got != tt.want {
			t.Errorf("OwnerRepo(%q) = %q, %v; want %q", tt.url, got, err, tt.want)
		}
	}
	if _, err := OwnerRepo("webapp"); err == nil {
		t.Error("OwnerRepo(webapp): want an error")
	}
}

// seen is one request a fake statuses API received.
type seen struct {
	Method, Path, Auth string
	Body               map[string]string
}

// statusAPI answers statuses POSTs with code and records them.
func statusAPI(t *testing.T, code int) (*httptest.Server, func() []seen) {
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]string
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("status body %q: %v", b, err)
		}
		mu.Lock()
		got = append(got, seen{r.Method, r.URL.Path, r.Header.Get("Authorization"), body})
		mu.Unlock()
		w.WriteHeader(code)
		io.WriteString(w, `{"message":"nope"}`)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []seen { mu.Lock(); defer mu.Unlock(); return got }
}

func TestReporter(t *testing.T) {
	for _, kind := range []string{TypeGitHub, TypeGitea} {
		t.Run(kind, func(t *testing.T) {
			srv, requests := statusAPI(t, http.StatusCreated)
			cfg := &config.Config{Repositories: []config.Repository{
				{Name: "webapp", URL: "https://forge.example/ann/webapp.git", Forge: config.Forge{Type: kind, API: srv.URL, Token: "tok"}},
				{Name: "plain", URL: "/srv/git/plain.git"},
			}}
			r := NewReporter(cfg, func(id string) string { return "http://conveyor/runs/" + id }, srv.Client())
			for _, run := range []Run{
				{Repository: "webapp", Pipeline: "ci", RunID: "r1", Commit: "abc", State: "running"},
				{Repository: "webapp", Pipeline: "ci", RunID: "r1", Commit: "abc", State: "completed", Result: "failed"},
				{Repository: "plain", Pipeline: "ci", RunID: "r2", Commit: "abc", State: "running"},
			} {
				if err := r.RunChanged(t.Context(), run); err != nil {
					t.Fatal(err)
				}
			}
			path, auth := "/repos/ann/webapp/statuses/abc", "Bearer tok"
			if kind == TypeGitea {
				path, auth = "/api/v1/repos/ann/webapp/statuses/abc", "token tok"
			}
			want := []seen{
				{"POST", path, auth, map[string]string{"state": "pending", "context": "conveyor/ci", "target_url": "http://conveyor/runs/r1", "description": "ci: running"}},
				{"POST", path, auth, map[string]string{"state": "failure", "context": "conveyor/ci", "target_url": "http://conveyor/runs/r1", "description": "ci: failed"}},
			}
			if diff := cmp.Diff(want, requests()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReporterErrorSaysWhatToDo(t *testing.T) {
	srv, _ := statusAPI(t, http.StatusUnauthorized)
	c, err := NewClient(TypeGitHub, srv.URL, "bad", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	err = c.SetStatus(t.Context(), "ann/webapp", Status{Commit: "abc", State: StatePending, Context: "conveyor/ci"})
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "check the forge token") {
		t.Errorf("error = %v; want the status and a hint", err)
	}
	if _, err := NewClient("bitbucket", "", "", nil); err == nil || !strings.Contains(err.Error(), "want github or gitea") {
		t.Errorf("unknown type: %v", err)
	}
}
