package pipeline

import (
	"strconv"
	"strings"

	"conveyor.dev/conveyor/internal/pipeline/expr"
	"conveyor.dev/conveyor/internal/plan"
)

// Values seen by compile-time expressions are the expression package's:
// nil, bool, float64, string, []any and *expr.Object (and, from functions,
// expr.Version and time.Time).

// origins remembers which Node a mapping or sequence value came from, so that
// a value inserted back into the document keeps its source positions.
type origins map[any]*Node

func (or origins) key(v any) any {
	switch v := v.(type) {
	case *expr.Object:
		return v
	case []any:
		if len(v) > 0 {
			return &v[0]
		}
	}
	return nil
}

// fromNode converts a document node to an expression value.
func (or origins) fromNode(n *Node) any {
	if n == nil {
		return nil
	}
	switch n.Kind {
	case NullNode:
		return nil
	case MappingNode:
		o := expr.NewObject()
		for _, p := range n.Pairs {
			o.Set(p.Key.Value, or.fromNode(p.Value))
		}
		or[o] = n
		return o
	case SequenceNode:
		s := make([]any, len(n.Items))
		for i, it := range n.Items {
			s[i] = or.fromNode(it)
		}
		if len(s) > 0 {
			or[&s[0]] = n
		}
		return s
	}
	switch n.Tag {
	case TagBool:
		return strings.EqualFold(n.Value, "true")
	case TagInt, TagFloat:
		if f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64); err == nil {
			return f
		}
		if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			return float64(i)
		}
	}
	return n.Value
}

// toNode converts an expression value back to a document node at pos. A
// value that came from a node unchanged gets that node back, positions and
// all.
func (or origins) toNode(v any, pos plan.Pos) *Node {
	if k := or.key(v); k != nil {
		if n, ok := or[k]; ok {
			// A slice sharing its first element with the original but of
			// another length is a new value.
			if s, isSlice := v.([]any); !isSlice || len(s) == len(n.Items) {
				return n
			}
		}
	}
	switch v := v.(type) {
	case nil:
		return &Node{Kind: NullNode, Tag: TagNull, Pos: pos}
	case bool:
		return &Node{Kind: ScalarNode, Tag: TagBool, Value: expr.ToString(v), Pos: pos}
	case float64:
		return &Node{Kind: ScalarNode, Tag: TagFloat, Value: formatNumber(v), Pos: pos}
	case string:
		return scalar(v, pos)
	case []any:
		n := &Node{Kind: SequenceNode, Pos: pos, Items: make([]*Node, len(v))}
		for i, it := range v {
			n.Items[i] = or.toNode(it, pos)
		}
		return n
	case *expr.Object:
		n := &Node{Kind: MappingNode, Pos: pos, Pairs: make([]Pair, 0, v.Len())}
		vals := v.Values()
		for i, k := range v.Keys() {
			n.Pairs = append(n.Pairs, Pair{scalar(k, pos), or.toNode(vals[i], pos)})
		}
		return n
	}
	return scalar(expr.ToString(v), pos)
}

func formatNumber(f float64) string {
	if f == float64(int64(f)) && f < 1e15 && f > -1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// stringify converts a value to its Azure string form.
func stringify(v any) string { return expr.ToString(v) }

// truthy is Azure's boolean cast.
func truthy(v any) bool { return expr.ToBool(v) }

// toJSONValue converts an expression value to plain JSON-able data.
func toJSONValue(v any) any {
	switch v := v.(type) {
	case []any:
		out := make([]any, len(v))
		for i, it := range v {
			out[i] = toJSONValue(it)
		}
		return out
	case *expr.Object:
		out := make(map[string]any, v.Len())
		vals := v.Values()
		for i, k := range v.Keys() {
			out[k] = toJSONValue(vals[i])
		}
		return out
	case nil, bool, float64, string:
		return v
	}
	return expr.ToString(v)
}
