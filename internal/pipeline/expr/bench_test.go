package expr

import "testing"

// BenchmarkEval evaluates a typical job condition.
func BenchmarkEval(b *testing.B) {
	e := MustParse("and(succeeded(), eq(variables['Build.SourceBranch'], 'refs/heads/main'), ne(variables['Build.Reason'], 'PullRequest'))")
	c := fuzzContext(Condition)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Eval(c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse parses the same condition.
func BenchmarkParse(b *testing.B) {
	const src = "and(succeeded(), eq(variables['Build.SourceBranch'], 'refs/heads/main'), ne(variables['Build.Reason'], 'PullRequest'))"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(src); err != nil {
			b.Fatal(err)
		}
	}
}
