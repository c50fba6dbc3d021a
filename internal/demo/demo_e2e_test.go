package demo

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer collects the demo's progress from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// buildConveyor builds the conveyor binary the demo starts its server and
// cluster supervisor with.
func buildConveyor(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "conveyor")
	cmd := exec.Command("go", "build", "-o", exe, "conveyor.dev/conveyor/cmd/conveyor")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return exe
}

// TestDemoEndToEnd runs the whole reference flow non-interactively: PR →
// CI → CD with staging, acceptance tests, the production approval,
// promotion and the production deploy, on a real control plane with a real
// node, the embedded registries and a real git repository.
func TestDemoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("the end-to-end demo takes minutes; run without -short")
	}
	exe := buildConveyor(t)
	dir := t.TempDir()
	var out syncBuffer
	start := time.Now()
	sum, err := Run(t.Context(), Options{Exe: exe, Dir: dir, Yes: true, Out: &out, Timeout: 8 * time.Minute})
	t.Logf("demo progress:\n%s", out.String())
	if err != nil {
		if log, rerr := os.ReadFile(filepath.Join(dir, "server.log")); rerr == nil {
			t.Logf("server log (tail):\n%s", tail(string(log), 80))
		}
		t.Fatalf("demo: %v", err)
	}
	t.Logf("demo took %s; merge → production %s (approval wait %s excluded)", time.Since(start).Round(time.Millisecond), sum.MergeToProduction.Round(time.Millisecond), sum.ApprovalWait.Round(time.Millisecond))

	var got []string
	for _, p := range sum.Pipelines {
		got = append(got, p.Pipeline+":"+p.Result)
	}
	if want := "pr:succeeded ci:succeeded cd:succeeded"; strings.Join(got, " ") != want {
		t.Errorf("pipelines = %v, want %s", got, want)
	}
	if sum.Digest == "" || sum.Digest != sum.ProdDigest {
		t.Errorf("digest in nonprod %q, in prod %q: want the same bytes in both", sum.Digest, sum.ProdDigest)
	}
	if !strings.Contains(sum.NonprodRef, "@"+sum.Digest) || !strings.Contains(sum.ProdRef, "@"+sum.Digest) {
		t.Errorf("references %q and %q are not pinned to %s", sum.NonprodRef, sum.ProdRef, sum.Digest)
	}
	seen := map[string]bool{}
	for _, w := range sum.Workloads {
		if w.Name != "webapp" {
			continue
		}
		seen[w.Namespace] = true
		if !w.Available {
			t.Errorf("%s/webapp is not Available", w.Namespace)
		}
		if !strings.HasSuffix(w.Image, "@"+sum.Digest) {
			t.Errorf("%s/webapp runs %s, want the digest %s", w.Namespace, w.Image, sum.Digest)
		}
	}
	if !seen["staging"] || !seen["production"] {
		t.Errorf("webapp Deployments found in %v, want staging and production", seen)
	}
	if !sum.AcceptanceBeforeApproval {
		t.Error("the acceptance tests had not passed on staging when the approval was requested")
	}
	if !sum.ProductionVerified {
		t.Error("the acceptance tests did not pass against production after its deploy")
	}
	if !sum.ApprovalAudited {
		t.Error("the approval is not in the audit log")
	}
}
