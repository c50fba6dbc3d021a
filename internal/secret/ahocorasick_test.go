package secret

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// naiveSpans is the reference: every occurrence of every pattern, merged.
func naiveSpans(s string, patterns []string) []span {
	var spans []span
	for _, p := range patterns {
		if p == "" {
			continue
		}
		for i := 0; i+len(p) <= len(s); i++ {
			if s[i:i+len(p)] == p {
				spans = append(spans, span{i, i + len(p)})
			}
		}
	}
	if len(spans) == 0 {
		return nil
	}
	return mergeSpans(spans, 0)
}

// TestMatcherAgainstNaive compares the automaton, fully dense and mostly
// sparse, with a naive search on random patterns and texts over a small
// alphabet (so that patterns overlap and share prefixes and suffixes).
func TestMatcherAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = "abc"[r.IntN(3)]
		}
		return string(b)
	}
	for round := range 300 {
		patterns := make([]string, 1+r.IntN(8))
		for i := range patterns {
			patterns[i] = word(1 + r.IntN(6))
		}
		text := word(r.IntN(60))
		want := naiveSpans(text, patterns)
		for _, budget := range []int{denseBudget, 1, 12} {
			got := buildMatcherBudget(patterns, budget).find(text, nil)
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(span{})); diff != "" {
				t.Fatalf("round %d, budget %d, patterns %q, text %q (-want +got):\n%s", round, budget, patterns, text, diff)
			}
		}
	}
}

func TestMatcherNoPatterns(t *testing.T) {
	if got := buildMatcher(nil).find(strings.Repeat("x", 10), nil); len(got) != 0 {
		t.Errorf("find with no patterns = %v", got)
	}
}
