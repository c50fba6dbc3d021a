package expr

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// show renders a value in a compact notation for test tables: null,
// true/false, numbers bare, strings quoted with ', versions as v1.2.3,
// date-times as t:RFC3339, arrays as [..] and objects as {k: v} in order.
func show(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return "'" + x + "'"
	case Version:
		return "v" + x.String()
	case time.Time:
		return "t:" + x.Format(time.RFC3339Nano)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = show(Normalize(e))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case *Object:
		parts := make([]string, x.Len())
		for i, k := range x.Keys() {
			parts[i] = k + ": " + show(Normalize(x.Values()[i]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprintf("%T(%v)", v, v)
}

// obj builds an *Object from alternating keys and values.
func obj(kv ...any) *Object {
	o := NewObject()
	for i := 0; i < len(kv); i += 2 {
		o.Set(kv[i].(string), kv[i+1])
	}
	return o
}

var startTime = time.Date(2024, 3, 5, 7, 8, 9, 123456789, time.UTC)

// testNamed is the context the function tables evaluate against, built
// from the examples in Azure Pipelines' "Expressions" page.
func testNamed() map[string]any {
	listOfValues := obj("this_is", obj("a_complex", "object", "with", []any{"one", "two"}))
	return map[string]any{
		"variables": obj(
			"letters", "ABC",
			"numbers", "123",
			"emptyString", "",
			"Build.SourceBranch", "refs/heads/main",
			"Build.Reason", "PullRequest",
			"major", "1",
			"environments", "prod1,prod2",
		),
		"parameters": obj(
			"myArray", []any{"FOO", "BAR", "ZOO"},
			"branchOptions", []any{"refs/heads/main", "refs/heads/test"},
			"listOfValues", listOfValues,
			"nums", []any{"1", "2"},
			"obj", obj("z", 1.0, "a", 2.0),
			"flag", true,
			"n", 3,
			"mixed", []any{1.0, true, nil, obj("k", "v"), "s"},
		),
		"foo": []any{
			obj("id", 1.0, "a", "avalue1"),
			obj("id", 2.0, "a", "avalue2"),
			obj("id", 3.0, "a", "avalue3"),
		},
		"dependencies": obj(
			"A", obj("result", "Succeeded", "outputs", obj("printvar.shouldrun", "true")),
		),
		"stageDependencies": obj(
			"A", obj("A1", obj("result", "Skipped", "outputs", obj("printvar.shouldrun", "true"))),
		),
		"pipeline": obj("startTime", startTime),
	}
}
