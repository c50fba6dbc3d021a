package expr

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Template expressions: "Define variables" (template expression syntax)
// and "Template expressions": a value that is one ${{ }} keeps its type,
// ${{ }} inside a longer string is replaced by its string form.
func TestExpandTemplate(t *testing.T) {
	tests := []struct {
		in   string
		want string // show() of the result
		err  string
		off  int
	}{
		{in: "no expressions", want: "'no expressions'"},
		{in: "$(macro) and $[ runtime ]", want: "'$(macro) and $[ runtime ]'"},
		{in: "${{ parameters.myArray }}", want: "['FOO', 'BAR', 'ZOO']"},
		{in: "  ${{ parameters.obj }}  ", want: "{z: 1, a: 2}"},
		{in: "${{ parameters.n }}", want: "3"},
		{in: "${{ parameters.flag }}", want: "true"},
		{in: "${{variables.letters}}", want: "'ABC'"},
		{in: "${{ variables.noSuch }}", want: "null"},
		{in: "echo ${{ variables.letters }}!", want: "'echo ABC!'"},
		{in: "${{ parameters.n }}${{ parameters.flag }}", want: "'3True'"},
		{in: "a ${{ variables.noSuch }} b", want: "'a  b'"},
		{in: "${{ '}}' }}", want: "'}}'"},
		{in: "x${{ 'it''s }}' }}y", want: "'xit's }}y'"},
		{in: "${{ format('{0}', 1) }}", want: "'1'"},
		{in: "echo ${{ replace(split(parameters.myArray[0], 'O')[0], 'F', 'G') }}_${{ lower('X') }}", want: "'echo G_x'"},
		{in: "echo ${{ parameters.myArray }}", err: "${{ parameters.myArray }} is an array, which cannot be part of a string: make it the whole value, or pick a field, or use convertToJson()", off: 5},
		{in: "echo ${{ variables.letters", err: "${{ is not closed by }}", off: 5},
		{in: "ab ${{ eq(1, }}", err: "unexpected end of expression", off: 13},
		{in: "ab ${{ nosuch.x }}", err: `unrecognized value "nosuch"`, off: 7},
		{in: "${{ }}", err: "expected an expression", off: 4},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ExpandTemplate(tc.in, &Context{Named: testNamed()})
			if tc.err != "" {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("ExpandTemplate = %s, %v; want *Error %q", show(got), err, tc.err)
				}
				if diff := cmp.Diff(&Error{Offset: tc.off, Msg: tc.err}, e); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, show(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestTemplateExpression(t *testing.T) {
	tests := []struct {
		in, inner string
		ok        bool
	}{
		{"${{ if eq(a, 'b') }}", " if eq(a, 'b') ", true},
		{"  ${{ each x in parameters.list }} ", " each x in parameters.list ", true},
		{"${{ else }}", " else ", true},
		{"${{ 'a}}b' }}", " 'a}}b' ", true},
		{"${{ a }}${{ b }}", "", false},
		{"x ${{ a }}", "", false},
		{"${{ a", "", false},
		{"plain", "", false},
	}
	for _, tc := range tests {
		inner, ok := TemplateExpression(tc.in)
		if inner != tc.inner || ok != tc.ok {
			t.Errorf("TemplateExpression(%q) = %q, %v; want %q, %v", tc.in, inner, ok, tc.inner, tc.ok)
		}
	}
	if !HasTemplate("a ${{ b }}") || HasTemplate("a $(b)") {
		t.Error("HasTemplate")
	}
}

// Runtime expressions: "Define variables" (runtime expression syntax
// $[variables.var] must be the entire value).
func TestRuntimeExpression(t *testing.T) {
	tests := []struct {
		in, inner string
		ok        bool
	}{
		{"$[eq(variables['Build.SourceBranch'], 'refs/heads/main')]", "eq(variables['Build.SourceBranch'], 'refs/heads/main')", true},
		{"  $[ counter(variables['major'], 100) ]  ", " counter(variables['major'], 100) ", true},
		{"$[ variables.a[0] ]", " variables.a[0] ", true},
		{"$[ ']' ]", " ']' ", true},
		{"$[a] and $[b]", "", false},
		{"x $[a]", "", false},
		{"$[a", "", false},
		{"$(a)", "", false},
		{"${{ a }}", "", false},
	}
	for _, tc := range tests {
		inner, ok := RuntimeExpression(tc.in)
		if inner != tc.inner || ok != tc.ok {
			t.Errorf("RuntimeExpression(%q) = %q, %v; want %q, %v", tc.in, inner, ok, tc.inner, tc.ok)
		}
	}
}

// Macros: "Define variables" (macro syntax $(var) is replaced before a
// task runs; a macro that cannot be resolved is left unchanged, and macros
// are not expanded recursively).
func TestExpandMacros(t *testing.T) {
	vars := map[string]string{
		"build.sourcebranch": "refs/heads/main",
		"a":                  "$(b)",
		"b":                  "bee",
		"my-var_1":           "x",
		"empty":              "",
	}
	lookup := func(name string) (string, bool) {
		v, ok := vars[strings.ToLower(name)]
		return v, ok
	}
	tests := []struct{ in, want string }{
		{"echo $(Build.SourceBranch)", "echo refs/heads/main"},
		{"$(a)", "$(b)"}, // not recursive
		{"$(b)$(b)", "beebee"},
		{"$(noSuch) stays", "$(noSuch) stays"},
		{"$(My-Var_1)", "x"},
		{"[$(empty)]", "[]"},
		{"$()", "$()"},
		{"$(a b)", "$(a b)"},
		{"$(b", "$(b"},
		{"$$(b)", "$bee"},
		{"$[ variables.b ] ${{ b }}", "$[ variables.b ] ${{ b }}"},
		{"no macros", "no macros"},
		{"end $", "end $"},
	}
	for _, tc := range tests {
		if got := ExpandMacros(tc.in, lookup); got != tc.want {
			t.Errorf("ExpandMacros(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if diff := cmp.Diff([]string{"a", "Build.SourceBranch", "a"}, Macros("$(a) $(Build.SourceBranch) $(a) $(x y)")); diff != "" {
		t.Errorf("Macros (-want +got):\n%s", diff)
	}
}
