package expr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf16"
)

// builtin is a function of the language. fn gets the call node so that it
// evaluates its arguments lazily (and, or, in, coalesce, iif
// short-circuit). A builtin with a nil fn is recognized but must be
// supplied by the caller in Context.Funcs (counter and the status
// functions need run state).
type builtin struct {
	name     string // canonical spelling
	min, max int    // max < 0: no maximum
	modes    uint8  // bit 1<<Mode set when allowed; 0: everywhere
	where    string // where it is allowed, for errors
	missing  string // why it is unavailable when fn is nil
	fn       func(ev *evaluator, n *call) (any, error)
}

const (
	anyArgs = -1

	statusWhere  = "status functions are allowed only in conditions (condition:), not in ${{ }} or $[ ] expressions"
	counterWhere = "counter() is allowed only in a runtime expression $[ ] that defines a variable"
)

var builtins map[string]builtin

func init() {
	list := []builtin{
		{name: "and", min: 2, max: anyArgs, fn: fnAnd},
		{name: "or", min: 2, max: anyArgs, fn: fnOr},
		{name: "not", min: 1, max: 1, fn: fnNot},
		{name: "xor", min: 2, max: 2, fn: fnXor},
		{name: "eq", min: 2, max: 2, fn: fnEq},
		{name: "ne", min: 2, max: 2, fn: fnNe},
		{name: "gt", min: 2, max: 2, fn: cmpFn(func(c int) bool { return c > 0 })},
		{name: "ge", min: 2, max: 2, fn: cmpFn(func(c int) bool { return c >= 0 })},
		{name: "lt", min: 2, max: 2, fn: cmpFn(func(c int) bool { return c < 0 })},
		{name: "le", min: 2, max: 2, fn: cmpFn(func(c int) bool { return c <= 0 })},
		{name: "in", min: 1, max: anyArgs, fn: fnIn},
		{name: "notIn", min: 1, max: anyArgs, fn: fnNotIn},
		{name: "contains", min: 2, max: 2, fn: strFn(func(a, b string) bool { return strings.Contains(foldString(a), foldString(b)) })},
		{name: "startsWith", min: 2, max: 2, fn: strFn(func(a, b string) bool { return strings.HasPrefix(foldString(a), foldString(b)) })},
		{name: "endsWith", min: 2, max: 2, fn: strFn(func(a, b string) bool { return strings.HasSuffix(foldString(a), foldString(b)) })},
		{name: "containsValue", min: 2, max: 2, fn: fnContainsValue},
		{name: "coalesce", min: 2, max: anyArgs, fn: fnCoalesce},
		{name: "format", min: 1, max: anyArgs, fn: fnFormat},
		{name: "join", min: 2, max: 2, fn: fnJoin},
		{name: "split", min: 2, max: 2, fn: fnSplit},
		{name: "replace", min: 3, max: 3, fn: fnReplace},
		{name: "lower", min: 1, max: 1, fn: fnLower},
		{name: "upper", min: 1, max: 1, fn: fnUpper},
		{name: "trim", min: 1, max: 1, fn: fnTrim},
		{name: "length", min: 1, max: 1, fn: fnLength},
		{name: "convertToJson", min: 1, max: 1, fn: fnConvertToJSON},
		{name: "iif", min: 1, max: 3, fn: fnIif},
		{name: "counter", min: 2, max: 2, modes: 1 << Runtime, where: counterWhere,
			missing: "the caller did not supply it (it needs the pipeline's counter store)"},
	}
	for _, s := range []string{"always", "canceled", "failed", "succeeded", "succeededOrFailed"} {
		list = append(list, builtin{name: s, min: 0, max: anyArgs, modes: 1 << Condition, where: statusWhere,
			missing: "the caller did not supply the run state (see StatusFuncs)"})
	}
	builtins = make(map[string]builtin, len(list))
	for _, b := range list {
		builtins[strings.ToLower(b.name)] = b
	}
}

// Builtin reports whether name (ignoring case) is a function of the
// language, including those the caller must supply (counter and the status
// functions).
func Builtin(name string) bool {
	_, ok := builtins[strings.ToLower(name)]
	return ok
}

func (ev *evaluator) args(n *call) ([]any, error) {
	out := make([]any, len(n.args))
	for i, a := range n.args {
		v, err := ev.value(a)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// Expressions, "and": casts to Boolean, short-circuits after the first False.
func fnAnd(ev *evaluator, n *call) (any, error) {
	for _, a := range n.args {
		v, err := ev.value(a)
		if err != nil {
			return nil, err
		}
		if !ToBool(v) {
			return false, nil
		}
	}
	return true, nil
}

// Expressions, "or": casts to Boolean, short-circuits after the first True.
func fnOr(ev *evaluator, n *call) (any, error) {
	for _, a := range n.args {
		v, err := ev.value(a)
		if err != nil {
			return nil, err
		}
		if ToBool(v) {
			return true, nil
		}
	}
	return false, nil
}

func fnNot(ev *evaluator, n *call) (any, error) {
	v, err := ev.value(n.args[0])
	if err != nil {
		return nil, err
	}
	return !ToBool(v), nil
}

func fnXor(ev *evaluator, n *call) (any, error) {
	a, err := ev.args(n)
	if err != nil {
		return nil, err
	}
	return ToBool(a[0]) != ToBool(a[1]), nil
}

func fnEq(ev *evaluator, n *call) (any, error) {
	a, err := ev.args(n)
	if err != nil {
		return nil, err
	}
	return Equal(a[0], a[1]), nil
}

func fnNe(ev *evaluator, n *call) (any, error) {
	a, err := ev.args(n)
	if err != nil {
		return nil, err
	}
	return !Equal(a[0], a[1]), nil
}

func cmpFn(ok func(int) bool) func(ev *evaluator, n *call) (any, error) {
	return func(ev *evaluator, n *call) (any, error) {
		a, err := ev.args(n)
		if err != nil {
			return nil, err
		}
		c, err := compare(a[0], a[1])
		if err != nil {
			return nil, err
		}
		return ok(c), nil
	}
}

func fnIn(ev *evaluator, n *call) (any, error) {
	left, err := ev.value(n.args[0])
	if err != nil {
		return nil, err
	}
	for _, a := range n.args[1:] {
		v, err := ev.value(a)
		if err != nil {
			return nil, err
		}
		if Equal(left, v) {
			return true, nil
		}
	}
	return false, nil
}

func fnNotIn(ev *evaluator, n *call) (any, error) {
	v, err := fnIn(ev, n)
	if err != nil {
		return nil, err
	}
	return !v.(bool), nil
}

func strFn(f func(a, b string) bool) func(ev *evaluator, n *call) (any, error) {
	return func(ev *evaluator, n *call) (any, error) {
		a, err := ev.args(n)
		if err != nil {
			return nil, err
		}
		return f(ToString(a[0]), ToString(a[1])), nil
	}
}

// Expressions, "containsValue": each item (array) or property value
// (object) is converted to the type of the right parameter and compared.
func fnContainsValue(ev *evaluator, n *call) (any, error) {
	a, err := ev.args(n)
	if err != nil {
		return nil, err
	}
	for _, item := range children(a[0]) {
		if Equal(a[1], item) {
			return true, nil
		}
	}
	return false, nil
}

// Expressions, "coalesce": the first value that is not null or the empty
// string; when there is none, the last value (null or the empty string).
func fnCoalesce(ev *evaluator, n *call) (any, error) {
	var v any
	for _, a := range n.args {
		var err error
		v, err = ev.value(a)
		if err != nil {
			return nil, err
		}
		if s, ok := v.(string); v != nil && !(ok && s == "") {
			return v, nil
		}
	}
	return v, nil
}

func fnFormat(ev *evaluator, n *call) (any, error) {
	a, err := ev.args(n)
	if err != nil {
		return nil, err
	}
	return Format(ToString(a[0]), a[1:]...)
}

// Expressions, "join": items converted to strings, complex items to the empty string;
// a right parameter that is not an array converts to a string.
func fnJoin(ev *evaluator, n *call) (any, error) {
	a, err := ev.args(n)
	if err != nil {
		return nil, err
	}
	sep := ToString(a[0])
	arr, ok := a[1].([]any)
	if !ok {
		return ToString(a[1]), nil
	}
	var b strings.Builder
	for i, item := range arr {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(ToString(item))
	}
	return b.String(), nil
}

// Expressions, "split": splits the first parameter at each occurrence of
// the second (the whole delimiter string, compared ordinally); empty strings
// are kept where delimiters are adjacent or at either end. An empty
// delimiter does not split.
func fnSplit(ev *evaluator, n *call) (any, error) {
	a, err := ev.args(n)
	if err != nil {
		return nil, err
	}
	s, sep := ToString(a[0]), ToString(a[1])
	if sep == "" {
		return []any{s}, nil
	}
	parts := strings.Split(s, sep)
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

// Expressions, "replace": every instance, compared ordinally.
func fnReplace(ev *evaluator, n *call) (any, error) {
	a, err := ev.args(n)
	if err != nil {
		return nil, err
	}
	s, old, repl := ToString(a[0]), ToString(a[1]), ToString(a[2])
	if old == "" {
		return s, nil
	}
	return strings.ReplaceAll(s, old, repl), nil
}

func fnLower(ev *evaluator, n *call) (any, error) {
	a, err := ev.args(n)
	if err != nil {
		return nil, err
	}
	return strings.ToLower(ToString(a[0])), nil
}

func fnUpper(ev *evaluator, n *call) (any, error) {
	a, err := ev.args(n)
	if err != nil {
		return nil, err
	}
	return strings.ToUpper(ToString(a[0])), nil
}

func fnTrim(ev *evaluator, n *call) (any, error) {
	a, err := ev.args(n)
	if err != nil {
		return nil, err
	}
	return strings.TrimSpace(ToString(a[0])), nil
}

// Expressions, "length": of a string (in UTF-16 code units, as .NET
// counts), an array or an object (its number of keys); null has length 0.
func fnLength(ev *evaluator, n *call) (any, error) {
	a, err := ev.args(n)
	if err != nil {
		return nil, err
	}
	switch x := a[0].(type) {
	case nil:
		return 0.0, nil
	case []any:
		return float64(len(x)), nil
	case *Object:
		return float64(x.Len()), nil
	}
	return float64(utf16Len(ToString(a[0]))), nil
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

func fnConvertToJSON(ev *evaluator, n *call) (any, error) {
	a, err := ev.args(n)
	if err != nil {
		return nil, err
	}
	return ToJSON(a[0])
}

// ToJSON renders a value as indented JSON (two spaces), objects with their
// keys in order, as convertToJson does.
func ToJSON(v any) (string, error) {
	b, err := marshalJSON(jsonValue(Normalize(v)))
	if err != nil {
		return "", fmt.Errorf("convert to JSON: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return "", fmt.Errorf("convert to JSON: %w", err)
	}
	return out.String(), nil
}

// jsonValue normalizes nested values so that every element marshals as
// the language sees it.
func jsonValue(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(Normalize(e))
		}
		return out
	case *Object:
		o := NewObject()
		for i, k := range x.Keys() {
			o.Set(k, jsonValue(Normalize(x.vals[i])))
		}
		return o
	}
	return v
}

// Expressions, "iif": the second parameter when the first is true, the
// third otherwise; only the chosen one is evaluated.
func fnIif(ev *evaluator, n *call) (any, error) {
	c, err := ev.value(n.args[0])
	if err != nil {
		return nil, err
	}
	pick := 2
	if ToBool(c) {
		pick = 1
	}
	if pick >= len(n.args) {
		return nil, nil
	}
	return ev.value(n.args[pick])
}
