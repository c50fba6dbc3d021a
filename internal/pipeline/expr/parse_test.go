package expr

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// String gives a canonical form that parses back to itself.
func TestParseString(t *testing.T) {
	tests := []struct{ src, want string }{
		{"eq( variables.a ,'b' )", "eq(variables.a, 'b')"},
		{"True", "true"},
		{"NULL", "null"},
		{"'it''s'", "'it''s'"},
		{"-1.50", "-1.5"},
		{".5", "0.5"},
		{"1.2.3", "1.2.3"},
		{"a['b'][0].c", "a['b'][0].c"},
		{"a.*.b", "a.*.b"},
		{"a[*].b", "a[*].b"},
		{"split(x, '/')[8]", "split(x, '/')[8]"},
		{"f()", "f()"},
		{"variables.my-var", "variables.my-var"},
		{"a.true", "a.true"},
		{"and(\n  eq(1, 1),\n  ne(2, 3)\n)", "and(eq(1, 1), ne(2, 3))"},
		{"1e3", "1000"},
		{"a[.5]", "a[0.5]"},
		{"f(.5, .5)", "f(0.5, 0.5)"},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			e, err := Parse(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, e.String()); diff != "" {
				t.Errorf("String() (-want +got):\n%s", diff)
			}
			again, err := Parse(e.String())
			if err != nil {
				t.Fatalf("reparse %q: %v", e.String(), err)
			}
			if again.String() != e.String() {
				t.Errorf("reparse: %q != %q", again.String(), e.String())
			}
			if e.Source() != tc.src {
				t.Errorf("Source() = %q", e.Source())
			}
		})
	}
}

// Syntax errors carry the 0-based offset of the problem.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		src string
		off int
		msg string
	}{
		{"", 0, "expected an expression"},
		{"   ", 3, "expected an expression"},
		{"eq(1, 2", 7, "missing ')' to close eq( at column 1"},
		{"eq(1,, 2)", 5, `unexpected ","`},
		{"eq(1 2)", 5, `unexpected "2"`},
		{"eq(1, 2) x", 9, `unexpected "x"`},
		{"eq(1, 2))", 8, `unexpected ")"`},
		{"'abc", 0, "unterminated string: a string starts with ' and ends with ' (write '' for a quote inside)"},
		{"eq('a', 'b)", 8, "unterminated string: a string starts with ' and ends with ' (write '' for a quote inside)"},
		{"1.2.3.4.5", 0, `invalid version "1.2.3.4.5": a version is 2 to 4 dot-separated numbers, like 1.2.3`},
		{"1.2.x", 0, `invalid version "1.2.x": a version is 2 to 4 dot-separated numbers, like 1.2.3`},
		{"-", 0, `invalid number "-"`},
		{"1abc", 0, `invalid number "1abc"`},
		{"--1", 0, `invalid number "--1"`},
		{"+1", 0, `unexpected character "+"`},
		{"a.", 2, "expected a property name after '.'"},
		{"a.b.1", 4, "expected a property name after '.'"},
		{"a.'b'", 2, "expected a property name after '.'"},
		{"a[1", 3, "missing ']' to close '[' at column 2"},
		{"a[1,2]", 3, `unexpected ","`},
		{"a[]", 2, `unexpected "]"`},
		{"#", 0, `unexpected character "#"`},
		{"eq(1, é)", 6, `unexpected character "é"`},
		{"(true)", 0, `unexpected "("`},
		{"f(", 2, "unexpected end of expression"},
		{"*", 0, `unexpected "*"`},
		{"0 .A000", 2, `unexpected "."`}, // found by FuzzParse: literals are not dereferenced
		{"'abc'[0]", 5, `unexpected "["`},
		{"a == b", 2, `unexpected character "="`},
		{"eq(1,2) && true", 8, `unexpected character "&"`},
		{strings.Repeat("not(", MaxDepth+2) + "true" + strings.Repeat(")", MaxDepth+2), 4 * (MaxDepth + 1), "expression nests deeper than the maximum of 50"},
		{"a" + strings.Repeat("[0]", MaxDepth+2), 3*MaxDepth + 2, "expression nests deeper than the maximum of 50"},
		{"'" + strings.Repeat("x", MaxLength) + "'", MaxLength, "expression is longer than the maximum of 21000 characters"},
	}
	for _, tc := range tests {
		name := tc.src
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			e, err := Parse(tc.src)
			var got *Error
			if !errors.As(err, &got) {
				t.Fatalf("Parse(%q) = %v, %v; want *Error", tc.src, e, err)
			}
			if diff := cmp.Diff(&Error{Offset: tc.off, Msg: tc.msg}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	_, err := Parse("eq(1,, 2)")
	if got, want := err.Error(), `unexpected "," (column 6)`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestNames(t *testing.T) {
	e := MustParse("and(eq(variables.a, parameters['b']), in(Variables.c, dependencies.x.result), foo.*.id)")
	if diff := cmp.Diff([]string{"variables", "parameters", "dependencies", "foo"}, e.Names()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		src  string
		mode Mode
		err  string
	}{
		{"and(succeeded(), eq(variables.a, 'b'))", Condition, ""},
		{"and(succeeded(), eq(variables.a, 'b'))", CompileTime, "succeeded() cannot be used in a template expression ${{ }}: status functions are allowed only in conditions (condition:), not in ${{ }} or $[ ] expressions (column 5)"},
		{"eq(variables.a)", CompileTime, "eq() takes 2 arguments, got 1 (column 1)"},
		{"x.y[nosuch(1)]", CompileTime, "unrecognized function nosuch() (column 5)"},
		{"counter('a', 1)", Runtime, ""},
		{"counter('a', 1)", Condition, "counter() cannot be used in a condition: counter() is allowed only in a runtime expression $[ ] that defines a variable (column 1)"},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			err := MustParse(tc.src).Validate(tc.mode, nil)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tc.err, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuiltin(t *testing.T) {
	for _, name := range []string{"and", "CONTAINSVALUE", "counter", "succeededOrFailed", "iif", "trim"} {
		if !Builtin(name) {
			t.Errorf("Builtin(%q) = false", name)
		}
	}
	if Builtin("toJson") {
		t.Error("Builtin(toJson) = true")
	}
}
