package expr

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Expressions, "Type casting": Boolean, Null, Number, String and Version to
// Boolean.
func TestToBool(t *testing.T) {
	tests := []struct {
		in   any
		want bool
	}{
		{nil, false},                   // Null to Boolean: False
		{false, false},                 // Boolean
		{true, true},                   // Boolean
		{0.0, false},                   // Number: 0 -> False
		{1.0, true},                    // any other number -> True
		{-1.5, true},                   // any other number -> True
		{math.NaN(), false},            // not a number is not true
		{"", false},                    // String: '' -> False
		{"false", true},                // any other string -> True
		{"0", true},                    // any other string -> True
		{" ", true},                    // any other string -> True
		{Version{1, 2, 0, 0, 2}, true}, // Version to Boolean: True
		{[]any{}, true},                // arrays are true
		{NewObject(), true},            // objects are true
		{startTime, true},              // date-times are true
		{0, false},                     // Go ints are numbers
		{3, true},
		{[]string{}, true},
	}
	for _, tc := range tests {
		if got := ToBool(tc.in); got != tc.want {
			t.Errorf("ToBool(%#v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// Expressions, "Type casting": to String (Boolean True/False, Null ”,
// numbers without thousands separator, versions by their components).
func TestToString(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{nil, ""},
		{true, "True"},
		{false, "False"},
		{0.0, "0"},
		{math.Copysign(0, -1), "0"},
		{1.0, "1"},
		{1.5, "1.5"},
		{-0.25, "-0.25"},
		{1000000.0, "1000000"},
		{123456789012345.0, "123456789012345"},
		{1e15, "1E+15"},
		{0.1 + 0.2, "0.3"}, // 15 significant digits (G15)
		{1.0 / 3, "0.333333333333333"},
		{0.0001, "0.0001"},
		{0.00001, "1E-05"},
		{math.Inf(1), "Infinity"},
		{"text", "text"},
		{Version{1, 2, 0, 0, 2}, "1.2"},
		{Version{1, 2, 3, 0, 3}, "1.2.3"},
		{Version{1, 2, 3, 4, 4}, "1.2.3.4"},
		{[]any{"a"}, ""},
		{obj("a", 1.0), ""},
		{42, "42"},
		{startTime, "2024-03-05T07:08:09Z"},
	}
	for _, tc := range tests {
		if got := ToString(tc.in); got != tc.want {
			t.Errorf("ToString(%#v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Expressions, "Type casting": to Number (False 0, True 1, Null 0, String
// ” 0, otherwise parsed with AllowDecimalPoint | AllowLeadingSign |
// AllowLeadingWhite | AllowThousands | AllowTrailingWhite, else not
// convertible; Version not convertible).
func TestToNumber(t *testing.T) {
	tests := []struct {
		in   any
		want float64
		err  bool
	}{
		{in: nil, want: 0},
		{in: false, want: 0},
		{in: true, want: 1},
		{in: 2.5, want: 2.5},
		{in: "", want: 0},
		{in: "  ", want: 0},
		{in: "12", want: 12},
		{in: " 12 ", want: 12},
		{in: "\t12\n", want: 12},
		{in: "-1.5", want: -1.5},
		{in: "+3", want: 3},
		{in: "1,000", want: 1000},
		{in: "1,000.5", want: 1000.5},
		{in: ".5", want: 0.5},
		{in: "5.", want: 5},
		{in: "007", want: 7},
		{in: "abc", err: true},
		{in: "1e3", err: true}, // no AllowExponent
		{in: "0x10", err: true},
		{in: ".", err: true},
		{in: "-", err: true},
		{in: "1.2.3", err: true},
		{in: ",1", err: true},
		{in: "1 2", err: true},
		{in: "Infinity", err: true},
		{in: Version{1, 2, 0, 0, 2}, err: true},
		{in: []any{}, err: true},
		{in: NewObject(), err: true},
		{in: startTime, err: true},
		{in: int64(7), want: 7},
		{in: uint8(7), want: 7},
		{in: float32(0.5), want: 0.5},
	}
	for _, tc := range tests {
		got, err := ToNumber(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ToNumber(%#v) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// Expressions, "Type casting": Number to Version (greater than zero, with a
// non-zero decimal, below Int32.MaxValue) and String to Version
// (Version.TryParse, Major and Minor at minimum).
func TestToVersion(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{1.5, "v1.5"},
		{0.5, "v0.5"},
		{1.0, "fail"},
		{-1.5, "fail"},
		{0.0, "fail"},
		{3e9, "fail"},
		{"1.2", "v1.2"},
		{"1.2.3.4", "v1.2.3.4"},
		{"1", "fail"},
		{"1.2.3.4.5", "fail"},
		{"1.-2", "fail"},
		{"1.2a", "fail"},
		{"99999999999.1", "fail"},
		{"", "fail"},
		{true, "fail"},
		{nil, "fail"},
		{Version{1, 2, 3, 0, 3}, "v1.2.3"},
	}
	for _, tc := range tests {
		v, ok := toVersion(tc.in)
		got := "fail"
		if ok {
			got = show(v)
		}
		if got != tc.want {
			t.Errorf("toVersion(%#v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// Version comparison: .NET ordering, a missing component sorting first.
func TestVersionCompare(t *testing.T) {
	v := func(s string) Version {
		x, ok := ParseVersion(s)
		if !ok {
			t.Fatalf("ParseVersion(%q) failed", s)
		}
		return x
	}
	tests := []struct {
		a, b string
		want int
	}{
		{"1.2", "1.2", 0},
		{"1.2", "1.2.0", -1},
		{"1.2.0", "1.2", 1},
		{"1.10", "1.9", 1},
		{"2.0", "10.0", -1},
		{"1.2.3.4", "1.2.3.5", -1},
	}
	for _, tc := range tests {
		if got := v(tc.a).Compare(v(tc.b)); got != tc.want {
			t.Errorf("Compare(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// Equal follows eq: Expressions, "eq" and "Type casting".
func TestEqual(t *testing.T) {
	arr := []any{"a"}
	o := obj("k", "v")
	tests := []struct {
		a, b any
		want bool
	}{
		{"abc", "ABC", true},
		{"straße", "STRASSE", false}, // ordinal: no linguistic folding
		{"ǅ", "ǆ", true},             // simple case folding
		{1.0, "1", true},
		{1.0, 1, true},
		{"1", 1.0, true},
		{"1.0", 1.0, false}, // 1 converts to '1'
		{true, "yes", true},
		{false, 0.0, true},
		{nil, nil, true},
		{nil, "", true},
		{nil, false, false},
		{Version{1, 2, 0, 0, 2}, "1.2", true},
		{Version{1, 2, 0, 0, 2}, 1.2, true},
		{arr, arr, true},
		{arr, []any{"a"}, false},
		{o, o, true},
		{o, obj("k", "v"), false},
		{o, "x", false},
		{startTime, "2024-03-05T07:08:09.123456789Z", true},
		{startTime, 1.0, false},
	}
	for _, tc := range tests {
		if got := Equal(tc.a, tc.b); got != tc.want {
			t.Errorf("Equal(%#v, %#v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestObject(t *testing.T) {
	o := NewObject()
	o.Set("zeta", 1.0)
	o.Set("Alpha", 2.0)
	o.Set("mid", 3.0)
	o.Set("ALPHA", 4.0) // same key ignoring case: value replaced in place
	if diff := cmp.Diff([]string{"zeta", "Alpha", "mid"}, o.Keys()); diff != "" {
		t.Errorf("Keys (-want +got):\n%s", diff)
	}
	if v, ok := o.Get("alpha"); !ok || v != 4.0 {
		t.Errorf("Get(alpha) = %v, %v", v, ok)
	}
	if _, ok := o.Get("nope"); ok {
		t.Error("Get(nope) found")
	}
	if o.Len() != 3 {
		t.Errorf("Len = %d", o.Len())
	}
	c := o.Clone()
	o.Delete("ZETA")
	if diff := cmp.Diff([]string{"Alpha", "mid"}, o.Keys()); diff != "" {
		t.Errorf("Keys after Delete (-want +got):\n%s", diff)
	}
	if v, ok := o.Get("mid"); !ok || v != 3.0 {
		t.Errorf("Get(mid) after Delete = %v, %v", v, ok)
	}
	if c.Len() != 3 {
		t.Errorf("clone changed: %v", c.Keys())
	}
	var nilObj *Object
	if nilObj.Len() != 0 || nilObj.Keys() != nil {
		t.Error("nil Object is not empty")
	}
	if _, ok := nilObj.Get("a"); ok {
		t.Error("nil Object Get found")
	}
}

func TestJSON(t *testing.T) {
	v := obj("z", 1.0, "a", []any{"x<y>&", true, nil, Version{1, 2, 3, 0, 3}, obj("n", 2)}, "b", map[string]any{"k2": 1, "k1": "v"})
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	// json.Marshal escapes HTML characters in Marshaler output; ToJSON does not.
	want := `{"z":1,"a":["x\u003cy\u003e\u0026",true,null,"1.2.3",{"n":2}],"b":{"k1":"v","k2":1}}`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	s, err := ToJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	wantIndented := `{
  "z": 1,
  "a": [
    "x<y>&",
    true,
    null,
    "1.2.3",
    {
      "n": 2
    }
  ],
  "b": {
    "k1": "v",
    "k2": 1
  }
}`
	if diff := cmp.Diff(wantIndented, s); diff != "" {
		t.Errorf("ToJSON (-want +got):\n%s", diff)
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{3, "3"},
		{[]string{"a", "b"}, "['a', 'b']"},
		{[]int{1}, "[1]"},
		{map[string]any{"b": 1, "a": []string{"x"}}, "{a: ['x'], b: 1}"},
		{map[string]string{"k": "v"}, "{k: 'v'}"},
		{(*Object)(nil), "null"},
		{&Version{1, 2, 0, 0, 2}, "v1.2"},
		{json.Number("2.5"), "2.5"},
		{time.Duration(0), "'0s'"},
		{struct{ A int }{1}, "'{1}'"},
	}
	for _, tc := range tests {
		if got := show(Normalize(tc.in)); got != tc.want {
			t.Errorf("Normalize(%#v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
