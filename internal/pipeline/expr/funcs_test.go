package expr

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type evalCase struct {
	src  string
	want string // show() of the result
	err  string // substring of the error, when one is expected
}

// runEval evaluates each case against testNamed in mode.
func runEval(t *testing.T, mode Mode, funcs map[string]Func, cases []evalCase) {
	t.Helper()
	named := testNamed()
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			e, err := Parse(tc.src)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.src, err)
			}
			got, err := e.Eval(&Context{Named: named, Funcs: funcs, Mode: mode})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Eval(%q) = %s, %v; want error containing %q", tc.src, show(got), err, tc.err)
				}
				var xe *Error
				if !errors.As(err, &xe) {
					t.Fatalf("Eval(%q) error %T is not *Error", tc.src, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Eval(%q): %v", tc.src, err)
			}
			if diff := cmp.Diff(tc.want, show(got)); diff != "" {
				t.Errorf("Eval(%q) (-want +got):\n%s", tc.src, diff)
			}
		})
	}
}

// Literals: Expressions, "Literals" (boolean case-insensitive, null,
// numbers starting with '-', '.' or a digit, single-quoted strings with doubled quotes as
// escapes, versions with two or three dots).
func TestLiterals(t *testing.T) {
	runEval(t, CompileTime, nil, []evalCase{
		{src: "true", want: "true"},
		{src: "True", want: "true"},
		{src: "TRUE", want: "true"},
		{src: "false", want: "false"},
		{src: "False", want: "false"},
		{src: "null", want: "null"},
		{src: "-1.2", want: "-1.2"},
		{src: ".5", want: "0.5"},
		{src: "0", want: "0"},
		{src: "1.50", want: "1.5"},
		{src: "-0.25", want: "-0.25"},
		{src: "42", want: "42"},
		{src: "1e3", want: "1000"}, // exponent: accepted as an extension
		{src: "'a b c'", want: "'a b c'"},
		{src: "'It''s OK if they''re using contractions.'", want: "'It's OK if they're using contractions.'"},
		{src: "''", want: "''"},
		{src: "'${{ not an expression }}'", want: "'${{ not an expression }}'"},
		{src: "1.2.3", want: "v1.2.3"},
		{src: "1.2.3.4", want: "v1.2.3.4"},
		{src: "  true  ", want: "true"},
	})
}

// Variables and named values: Expressions, "Variables" (index and
// property dereference syntax; a dictionary miss is null), "Dependencies"
// and "Filtered arrays".
func TestNamedValues(t *testing.T) {
	runEval(t, Runtime, nil, []evalCase{
		{src: "variables['letters']", want: "'ABC'"},
		{src: "variables.letters", want: "'ABC'"},
		{src: "VARIABLES.LETTERS", want: "'ABC'"},
		{src: "variables['Build.SourceBranch']", want: "'refs/heads/main'"},
		{src: "variables['build.sourcebranch']", want: "'refs/heads/main'"},
		{src: "variables['noSuch']", want: "null"},
		{src: "variables.noSuch", want: "null"},
		{src: "variables.noSuch.deeper", want: "null"},
		{src: "variables.letters.length", want: "null"},
		{src: "parameters.myArray[0]", want: "'FOO'"},
		{src: "parameters.myArray['1']", want: "'BAR'"},
		{src: "parameters.myArray[3]", want: "null"},
		{src: "parameters.myArray[-1]", want: "null"},
		{src: "parameters.myArray[0.5]", want: "null"},
		{src: "parameters.n", want: "3"},
		{src: "parameters.obj", want: "{z: 1, a: 2}"},
		{src: "parameters['listOfValues'].this_is.with[1]", want: "'two'"},
		{src: "parameters.obj[variables.noSuch]", want: "null"},
		{src: "dependencies.A.outputs['printvar.shouldrun']", want: "'true'"},
		{src: "dependencies.a.result", want: "'Succeeded'"},
		{src: "stageDependencies.A.A1.outputs['printvar.shouldrun']", want: "'true'"},
		{src: "in(dependencies.a.result, 'Succeeded', 'SucceededWithIssues', 'Skipped')", want: "true"},
		{src: "in(stageDependencies.A.A1.result, 'Skipped')", want: "true"},
		{src: "and(succeeded(), eq(dependencies.A.outputs['printvar.shouldrun'], 'true'))", err: "succeeded() cannot be used in a runtime expression"},
		// Filtered arrays: foo.*.id returns [1, 2, 3].
		{src: "foo.*.id", want: "[1, 2, 3]"},
		{src: "foo[*].a", want: "['avalue1', 'avalue2', 'avalue3']"},
		{src: "foo.*.missing", want: "[]"},
		{src: "parameters.obj.*", want: "[1, 2]"},
		{src: "foo.*.*", want: "[1, 'avalue1', 2, 'avalue2', 3, 'avalue3']"},
		{src: "foo.*['id']", want: "[1, 2, 3]"},
		{src: "length(foo.*.id)", want: "3"},
		{src: "variables.letters.*", want: "[]"},
		{src: "noSuch", err: `unrecognized value "noSuch"`},
		{src: "pipeline.startTime", want: "t:2024-03-05T07:08:09.123456789Z"},
	})
}

// Functions: Expressions, "Functions", each with the documented example
// and the documented conversion rules.
func TestFunctions(t *testing.T) {
	runEval(t, CompileTime, nil, []evalCase{
		// and: casts to Boolean; short-circuits after the first False.
		{src: "and(eq(variables.letters, 'ABC'), eq(variables.numbers, 123))", want: "true"},
		{src: "and(true, false)", want: "false"},
		{src: "and(true, true, true)", want: "true"},
		{src: "and(1, 'x', 1.2.3, parameters.myArray)", want: "true"},
		{src: "and(true, '')", want: "false"},
		{src: "and(false, gt(1, 'abc'))", want: "false"},
		{src: "and(true, gt(1, 'abc'))", err: "gt()"},
		// or: short-circuits after the first True.
		{src: "or(eq(1, 1), eq(2, 3))", want: "true"},
		{src: "or(false, 0, '', null)", want: "false"},
		{src: "or(false, 'x')", want: "true"},
		{src: "or(true, gt(1, 'abc'))", want: "true"},
		// not
		{src: "not(eq(1, 2))", want: "true"},
		{src: "not('')", want: "true"},
		{src: "not('false')", want: "false"}, // a non-empty string is True
		{src: "not(0)", want: "true"},
		{src: "not(null)", want: "true"},
		// xor
		{src: "xor(True, False)", want: "true"},
		{src: "xor(true, true)", want: "false"},
		{src: "xor(0, '')", want: "false"},
		{src: "xor('a', 0)", want: "true"},
		// coalesce: first value that isn't null or an empty string.
		{src: "coalesce(variables.couldBeNull, variables.couldAlsoBeNull, 'literal so it always works')", want: "'literal so it always works'"},
		{src: "coalesce(variables.emptyString, '', 'literal value')", want: "'literal value'"},
		{src: "coalesce(null, 0)", want: "0"},
		{src: "coalesce(null, false)", want: "false"},
		{src: "coalesce(null, '')", want: "''"},
		{src: "coalesce('', null)", want: "null"},
		{src: "coalesce('a', gt(1, 'abc'))", want: "'a'"},
		// contains: casts to String, ordinal ignore-case.
		{src: "contains('ABCDE', 'BCD')", want: "true"},
		{src: "contains('abcde', 'BCD')", want: "true"},
		{src: "contains('ABCDE', 'X')", want: "false"},
		{src: "contains(123, 2)", want: "true"},
		{src: "contains('abc', '')", want: "true"},
		{src: "contains(true, 'ru')", want: "true"},
		// containsValue: items converted to the right parameter's type.
		{src: "containsValue(parameters.branchOptions, variables['Build.SourceBranch'])", want: "true"},
		{src: "containsValue(parameters.myArray, 'bar')", want: "true"},
		{src: "containsValue(parameters.myArray, 'baz')", want: "false"},
		{src: "containsValue(parameters.nums, 2)", want: "true"},
		{src: "containsValue(parameters.obj, 2)", want: "true"},
		{src: "containsValue(parameters.obj, 'z')", want: "false"},
		{src: "containsValue('abc', 'abc')", want: "false"},
		{src: "containsValue(parameters.mixed, 'x')", want: "false"},
		// endsWith
		{src: "endsWith('ABCDE', 'DE')", want: "true"},
		{src: "endsWith('ABCDE', 'de')", want: "true"},
		{src: "endsWith('ABCDE', 'AB')", want: "false"},
		// eq: right converted to the left's type; False when that fails.
		{src: "eq(variables.letters, 'ABC')", want: "true"},
		{src: "eq('abc', 'ABC')", want: "true"},
		{src: "eq(1, '1')", want: "true"},
		{src: "eq(1, '1.0')", want: "true"},
		{src: "eq(1, ' 1 ')", want: "true"},
		{src: "eq(1, 'abc')", want: "false"},
		{src: "eq(1, 1.2.3)", want: "false"},
		{src: "eq('true', true)", want: "true"},   // Type casting example: 'True'
		{src: "eq('false', true)", want: "false"}, // Type casting example
		{src: "eq(true, 'false')", want: "true"},  // non-empty string to Boolean is True
		{src: "eq(true, 1)", want: "true"},
		{src: "eq(false, '')", want: "true"},
		{src: "eq(null, '')", want: "true"},
		{src: "eq(null, 'a')", want: "false"},
		{src: "eq(null, 0)", want: "false"},
		{src: "eq('', null)", want: "true"},
		{src: "eq(0, null)", want: "true"},
		{src: "eq(0, '')", want: "true"},
		{src: "eq(1.2.3, '1.2.3')", want: "true"},
		{src: "eq(1.2.0, 1.2)", want: "false"}, // 1.2.0 and 1.2 differ in Build
		{src: "eq(1.2, 1.2.0)", want: "false"}, // a version is not convertible to a number
		{src: "eq('1.2.3', 1.2.3)", want: "true"},
		{src: "eq(parameters.myArray, parameters.myArray)", want: "true"},
		{src: "eq(split('a', 'b'), split('a', 'b'))", want: "false"},
		{src: "eq(parameters.obj, 'x')", want: "false"},
		{src: "eq('x', parameters.obj)", want: "false"},
		{src: "eq(parameters.flag, true)", want: "true"},
		{src: "eq(parameters.n, '3')", want: "true"},
		// format
		{src: "format('Hello {0} {1}', 'John', 'Doe')", want: "'Hello John Doe'"},
		{src: "format('literal left brace {{ and literal right brace }}')", want: "'literal left brace { and literal right brace }'"},
		{src: "format('{0:yyyyMMdd}', pipeline.startTime)", want: "'20240305'"},
		{src: "format('{0:yyyy-MM-dd HH:mm:ss.fff K}', pipeline.startTime)", want: "'2024-03-05 07:08:09.123 +00:00'"},
		{src: "format('{0:yy M d H m s f ff ffff}', pipeline.startTime)", want: "'24 3 5 7 8 9 1 12 1234'"},
		{src: "format('{0}', true)", want: "'True'"},
		{src: "format('{0}', 1.50)", want: "'1.5'"},
		{src: "format('{0}-{0}', null)", want: "'-'"},
		{src: "format('{1}{0}', 'a', 'b')", want: "'ba'"},
		{src: "format('{{0}}', 'a')", want: "'{0}'"},
		{src: "format('{2}', 'a')", err: "refers to argument {2}"},
		{src: "format('{', 'a')", err: "is not closed"},
		{src: "format('}')", err: "has no '{'"},
		{src: "format('{x}', 'a')", err: "not an argument number"},
		{src: "format('{0:yyyy}', 'not a date')", err: "only to date-time values"},
		// ge, gt, le, lt: right converted to the left's type; errors if that fails.
		{src: "ge(5, 5)", want: "true"},
		{src: "gt(5, 2)", want: "true"},
		{src: "le(2, 2)", want: "true"},
		{src: "lt(2, 5)", want: "true"},
		{src: "gt(2, 5)", want: "false"},
		{src: "lt(False, True)", want: "true"}, // Type casting example: 0 vs. 1
		{src: "lt(True, False)", want: "false"},
		{src: "gt('b', 'A')", want: "true"},
		{src: "gt('B', 'a')", want: "true"},
		{src: "lt('a', 'B')", want: "true"},
		{src: "ge('abc', 'ABC')", want: "true"},
		{src: "gt(1.10.0, 1.9.0)", want: "true"},
		{src: "gt(1.10.0, '1.9')", want: "true"},
		{src: "lt(1.2, 1.2.0)", err: "cannot convert version 1.2.0 to number"},
		{src: "gt(10, '9')", want: "true"},
		{src: "gt('10', 9)", want: "false"}, // string comparison: '10' < '9'
		{src: "gt(1, 'abc')", err: `cannot convert string "abc" to number`},
		{src: "gt(1.2.3, 'x')", err: "cannot convert"},
		{src: "lt(null, 1)", want: "true"},
		{src: "gt(parameters.myArray, 1)", err: "cannot compare array values"},
		{src: "gt(1, parameters.myArray)", err: "cannot convert array"},
		// in, notIn
		{src: "in('B', 'A', 'B', 'C')", want: "true"},
		{src: "in('b', 'A', 'B')", want: "true"},
		{src: "in('D', 'A')", want: "false"},
		{src: "in('x')", want: "false"},
		{src: "in(1, '1', 2)", want: "true"},
		{src: "in(variables['Build.Reason'], 'IndividualCI', 'BatchedCI')", want: "false"},
		{src: "in('a', 'a', gt(1, 'abc'))", want: "true"},
		{src: "notIn('D', 'A', 'B', 'C')", want: "true"},
		{src: "notIn('a', 'A')", want: "false"},
		{src: "notIn(1, 'abc')", want: "true"},
		// iif
		{src: "iif(eq(variables['Build.Reason'], 'PullRequest'), 'ManagedDevOpsPool', 'Azure Pipelines')", want: "'ManagedDevOpsPool'"},
		{src: "iif(eq(variables['Build.Reason'], 'Manual'), 'ManagedDevOpsPool', 'Azure Pipelines')", want: "'Azure Pipelines'"},
		{src: "iif(true, 'a', gt(1, 'abc'))", want: "'a'"},
		{src: "iif(false, 'a')", want: "null"},
		{src: "iif(true)", want: "null"},
		// join
		{src: "join(';', parameters.myArray)", want: "'FOO;BAR;ZOO'"},
		{src: "join(',', 'abc')", want: "'abc'"},
		{src: "join('-', split('a,b', ','))", want: "'a-b'"},
		{src: "join(',', parameters.mixed)", want: "'1,True,,,s'"},
		{src: "join(',', parameters.obj)", want: "''"},
		// length
		{src: "length('fabrikam')", want: "8"},
		{src: "length(parameters.myArray)", want: "3"},
		{src: "length('')", want: "0"},
		{src: "length(variables.noSuch)", want: "0"},
		{src: "length(parameters.obj)", want: "2"},
		{src: "length('héllo')", want: "5"},
		// lower, upper
		{src: "lower('FOO')", want: "'foo'"},
		{src: "upper('bah')", want: "'BAH'"},
		{src: "upper(true)", want: "'TRUE'"},
		{src: "lower(1.2.3)", want: "'1.2.3'"},
		// ne: True when the conversion fails.
		{src: "ne(1, 2)", want: "true"},
		{src: "ne(1, 'abc')", want: "true"},
		{src: "ne('a', 'A')", want: "false"},
		// replace
		{src: "replace('https://www.tinfoilsecurity.com/saml/consume','https://www.tinfoilsecurity.com','http://server')", want: "'http://server/saml/consume'"},
		{src: "replace('aaa', 'a', 'b')", want: "'bbb'"},
		{src: "replace('Aba', 'a', 'x')", want: "'Abx'"},
		{src: "replace('abc', '', 'x')", want: "'abc'"},
		// split
		{src: "split(variables.environments, ',')", want: "['prod1', 'prod2']"},
		{src: "split('a,,b,', ',')", want: "['a', '', 'b', '']"},
		{src: "split('a, b', ', ')", want: "['a', 'b']"},
		{src: "split('abc', '')", want: "['abc']"},
		{src: "split('', ',')", want: "['']"},
		{src: "replace(split('/subscriptions/mysubscription/resourceGroups/myResourceGroup/providers/Microsoft.Network/loadBalancers/kubernetes-internal', '/')[8], '-', '_')", want: "'kubernetes_internal'"},
		// startsWith
		{src: "startsWith('ABCDE', 'AB')", want: "true"},
		{src: "startsWith('abcde', 'AB')", want: "true"},
		{src: "startsWith(variables['Build.SourceBranch'], 'refs/heads/users/')", want: "false"},
		// trim
		{src: "trim('  variable  ')", want: "'variable'"},
		{src: "trim(' \t a b \n')", want: "'a b'"},
		// convertToJson
		{src: "convertToJson('a')", want: `'"a"'`},
		{src: "convertToJson(1.5)", want: "'1.5'"},
		{src: "convertToJson(null)", want: "'null'"},
		{src: "convertToJson(parameters.obj)", want: "'{\n  \"z\": 1,\n  \"a\": 2\n}'"},
		{src: "convertToJson(1.2.3)", want: `'"1.2.3"'`},
		// names are case-insensitive
		{src: "EQ(1, 1)", want: "true"},
		{src: "StartsWith('ab', 'A')", want: "true"},
		{src: "CONVERTTOJSON(true)", want: "'true'"},
	})
}

// convertToJson: Expressions, "convertToJson" — the documented script
// output for the listOfValues parameter.
func TestConvertToJSONDocExample(t *testing.T) {
	e := MustParse("convertToJson(parameters.listOfValues)")
	got, err := e.Eval(&Context{Named: testNamed()})
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "this_is": {
    "a_complex": "object",
    "with": [
      "one",
      "two"
    ]
  }
}`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// Where functions are allowed: Expressions, "counter" (only in an
// expression that defines a variable) and "Job status check functions"
// (in conditions, not in variable definitions).
func TestFunctionModes(t *testing.T) {
	counter := map[string]Func{"counter": {MinArgs: 2, MaxArgs: 2, Call: func(args []any) (any, error) {
		seed, err := ToNumber(args[1])
		return seed, err
	}}}
	status := StatusFuncs(Status{})
	all := map[string]Func{}
	for k, v := range counter {
		all[k] = v
	}
	for k, v := range status {
		all[k] = v
	}
	tests := []struct {
		name  string
		mode  Mode
		funcs map[string]Func
		src   string
		want  string
		err   string
	}{
		{name: "counter in runtime", mode: Runtime, funcs: all, src: "counter(variables['major'], 100)", want: "100"},
		{name: "counter in condition", mode: Condition, funcs: all, src: "counter('a', 1)", err: "counter() cannot be used in a condition"},
		{name: "counter at compile time", mode: CompileTime, funcs: all, src: "counter('a', 1)", err: "counter() cannot be used in a template expression"},
		{name: "counter not supplied", mode: Runtime, src: "counter('a', 1)", err: "counter() is not available here"},
		{name: "counter arity", mode: Runtime, funcs: all, src: "counter('a')", err: "counter() takes 2 arguments, got 1"},
		{name: "succeeded in condition", mode: Condition, funcs: all, src: "succeeded()", want: "true"},
		{name: "always in condition", mode: Condition, funcs: all, src: "always()", want: "true"},
		{name: "succeeded in runtime", mode: Runtime, funcs: all, src: "succeeded()", err: "succeeded() cannot be used in a runtime expression"},
		{name: "failed at compile time", mode: CompileTime, funcs: all, src: "failed()", err: "failed() cannot be used in a template expression"},
		{name: "status not supplied", mode: Condition, src: "canceled()", err: "canceled() is not available here"},
		{name: "case-insensitive mode check", mode: Runtime, funcs: all, src: "SUCCEEDED()", err: "cannot be used in a runtime expression"},
		{name: "unknown function", mode: Condition, src: "frobnicate(1)", err: "unrecognized function frobnicate()"},
		{name: "user function", mode: CompileTime, funcs: map[string]Func{"double": {MinArgs: 1, MaxArgs: 1, Call: func(a []any) (any, error) {
			f, err := ToNumber(a[0])
			return 2 * f, err
		}}}, src: "Double('21')", want: "42"},
		{name: "user function override", mode: CompileTime, funcs: map[string]Func{"lower": {MinArgs: 0, MaxArgs: 0, Call: func([]any) (any, error) { return "mine", nil }}}, src: "lower()", want: "'mine'"},
		{name: "user function returns Go types", mode: CompileTime, funcs: map[string]Func{"list": {MinArgs: 0, MaxArgs: -1, Call: func([]any) (any, error) { return []string{"a", "b"}, nil }}}, src: "list()[1]", want: "'b'"},
		{name: "user function error", mode: CompileTime, funcs: map[string]Func{"boom": {MinArgs: 0, MaxArgs: 0, Call: func([]any) (any, error) { return nil, errors.New("kaput") }}}, src: "eq(1, boom())", err: "boom(): kaput"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := MustParse(tc.src)
			c := &Context{Named: testNamed(), Funcs: tc.funcs, Mode: tc.mode}
			got, err := e.Eval(c)
			verr := e.Validate(tc.mode, tc.funcs)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Eval = %s, %v; want error containing %q", show(got), err, tc.err)
				}
				evalOnly := strings.Contains(tc.name, "user function error") || strings.Contains(tc.name, "not supplied")
				if !evalOnly && (verr == nil || verr.Error() != err.Error()) {
					t.Errorf("Validate = %v, want the Eval error %v", verr, err)
				}
				return
			}
			if err != nil || verr != nil {
				t.Fatalf("Eval: %v; Validate: %v", err, verr)
			}
			if diff := cmp.Diff(tc.want, show(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// Arity: Expressions, "Functions" (minimum and maximum parameters of each).
func TestArity(t *testing.T) {
	tests := []struct{ src, err string }{
		{"and(true)", "and() takes at least 2 arguments, got 1"},
		{"or()", "or() takes at least 2 arguments, got 0"},
		{"not(1, 2)", "not() takes 1 argument, got 2"},
		{"xor(1, 2, 3)", "xor() takes 2 arguments, got 3"},
		{"eq(1)", "eq() takes 2 arguments, got 1"},
		{"in()", "in() takes at least 1 argument, got 0"},
		{"coalesce('a')", "coalesce() takes at least 2 arguments, got 1"},
		{"format()", "format() takes at least 1 argument, got 0"},
		{"iif(1, 2, 3, 4)", "iif() takes at most 3 arguments, got 4"},
		{"replace('a', 'b')", "replace() takes 3 arguments, got 2"},
		{"length()", "length() takes 1 argument, got 0"},
		{"convertToJson(1, 2)", "convertToJson() takes 1 argument, got 2"},
		{"split('a')", "split() takes 2 arguments, got 1"},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			_, err := MustParse(tc.src).Eval(nil)
			var e *Error
			if !errors.As(err, &e) || e.Msg != tc.err || e.Offset != 0 {
				t.Fatalf("Eval(%q) error = %#v, want *Error{Offset: 0, Msg: %q}", tc.src, err, tc.err)
			}
		})
	}
}

func TestEvalErrorOffsets(t *testing.T) {
	tests := []struct {
		src string
		off int
		msg string
	}{
		{"and(true, gt(1, 'abc'))", 10, `gt(): cannot convert string "abc" to number to compare it with 1`},
		{"eq(1, nosuch.x)", 6, `unrecognized value "nosuch"`},
		{"not(not(foo()))", 8, "unrecognized function foo()"},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			_, err := MustParse(tc.src).Eval(&Context{Named: testNamed()})
			want := &Error{Offset: tc.off, Msg: tc.msg}
			var got *Error
			if !errors.As(err, &got) {
				t.Fatalf("error = %v, want %v", err, want)
			}
			got = &Error{Offset: got.Offset, Msg: got.Msg}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
