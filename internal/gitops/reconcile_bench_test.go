package gitops

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkReconcileUnchanged measures the steady state of the pull mode:
// one reconcile of a git source of 50 ConfigMaps where nothing changed
// (fetch from the mirror, render, apply, prune, health, record), which is
// what every interval costs per entry.
func BenchmarkReconcileUnchanged(b *testing.B) {
	var sb strings.Builder
	for i := range 50 {
		fmt.Fprintf(&sb, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d}\ndata: {i: %q}\n", i, fmt.Sprint(i))
	}
	repo := newGitRepo(b)
	repo.commit("50 ConfigMaps", map[string]string{"cms.yaml": sb.String()})
	r := newReconciler(b, Spec{Name: "bench", Namespace: namespace(b), Prune: true, Wait: true},
		&GitSource{Mirrors: mirrors(b), URL: repo.dir})
	if _, err := r.Reconcile(b.Context()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		res, err := r.Reconcile(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		if n := len(res.Applied.Entries); n != 50 {
			b.Fatalf("%d objects applied, want 50", n)
		}
	}
}
