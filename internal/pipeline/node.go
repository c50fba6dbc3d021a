package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"conveyor.dev/conveyor/internal/plan"
)

// Kind is the kind of a Node.
type Kind uint8

// Node kinds.
const (
	NullNode Kind = iota
	ScalarNode
	MappingNode
	SequenceNode
)

// Scalar tags: how a plain YAML scalar resolved (YAML core schema), which
// decides its type inside expressions.
const (
	TagStr   = "str"
	TagBool  = "bool"
	TagInt   = "int"
	TagFloat = "float"
	TagNull  = "null"
)

// Node is one node of a pipeline document: a mapping (ordered), a sequence,
// a scalar or null, with the position it came from. Templates and
// compile-time expressions are expanded on Nodes before the pipeline is
// decoded.
type Node struct {
	Kind  Kind
	Tag   string // scalars: TagStr, TagBool, TagInt, TagFloat, TagNull
	Value string // scalars
	Pairs []Pair // mappings, in document order
	Items []*Node
	Pos   plan.Pos
	// Templates are the template files an item of a stages, jobs or steps
	// list came through, outermost first.
	Templates []string
	// style says how a scalar was written, to place positions inside it.
	style scalarStyle
}

type scalarStyle uint8

const (
	stylePlain scalarStyle = iota
	styleQuoted
	styleBlock
)

// posAt returns the position of byte offset off of a scalar's value when it
// can be known (a single-line plain or quoted scalar), and the scalar's own
// position otherwise.
func (n *Node) posAt(off int) plan.Pos {
	if n == nil || n.Kind != ScalarNode || n.style == styleBlock || off < 0 || off > len(n.Value) || strings.Contains(n.Value, "\n") {
		return n.Pos
	}
	p := n.Pos
	if n.style == styleQuoted {
		p.Col++
	}
	p.Col += utf8.RuneCountInString(n.Value[:off])
	return p
}

// Pair is one key/value entry of a mapping.
type Pair struct {
	Key   *Node
	Value *Node
}

// Get returns the value of the mapping entry with the given key, or nil.
func (n *Node) Get(key string) *Node {
	if n == nil || n.Kind != MappingNode {
		return nil
	}
	for _, p := range n.Pairs {
		if p.Key.Kind == ScalarNode && p.Key.Value == key {
			return p.Value
		}
	}
	return nil
}

// IsNull reports whether n is absent or null.
func (n *Node) IsNull() bool { return n == nil || n.Kind == NullNode }

func (n *Node) kindName() string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case NullNode:
		return "null"
	case MappingNode:
		return "a mapping"
	case SequenceNode:
		return "a sequence"
	}
	switch n.Tag {
	case TagBool:
		return "a boolean"
	case TagInt, TagFloat:
		return "a number"
	}
	return "a string"
}

func scalar(s string, pos plan.Pos) *Node {
	return &Node{Kind: ScalarNode, Tag: TagStr, Value: s, Pos: pos}
}

var lineRE = regexp.MustCompile(`line (\d+)`)

// Parse parses one pipeline or template file into a Node tree with the
// position of every node; file names the positions. A syntax error is an
// *Error.
func Parse(file string, data []byte) (*Node, error) {
	n, err := parseYAML(file, data)
	if err != nil {
		return nil, err
	}
	return n, nil
}

// parseYAML parses one YAML document into a Node tree. Anchors and aliases
// are rejected, as Azure Pipelines does. An empty document is a null Node.
func parseYAML(file string, data []byte) (root *Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, &Error{File: file, Line: 1, Col: 1, Msg: fmt.Sprintf("invalid YAML: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &Node{Kind: NullNode, Pos: plan.Pos{File: file, Line: 1, Col: 1}}, nil
		}
		return nil, yamlError(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{File: file, Line: extra.Line, Col: extra.Column, Msg: "more than one YAML document in the file: a pipeline file holds one document"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlError(file, err)
	}
	c := converter{file: file}
	n := c.convert(&doc, 0)
	if c.err != nil {
		return nil, c.err
	}
	return n, nil
}

func yamlError(file string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = strings.TrimPrefix(strings.Replace(msg, m[0], "", 1), ": ")
	}
	return &Error{File: file, Line: line, Col: 1, Msg: "invalid YAML: " + msg}
}

type converter struct {
	file string
	err  *Error
}

const maxYAMLDepth = 200

func (c *converter) fail(n *yaml.Node, msg string) *Node {
	if c.err == nil {
		c.err = &Error{File: c.file, Line: n.Line, Col: n.Column, Msg: msg}
	}
	return &Node{Kind: NullNode, Pos: plan.Pos{File: c.file, Line: n.Line, Col: n.Column}}
}

func (c *converter) convert(y *yaml.Node, depth int) *Node {
	if depth > maxYAMLDepth {
		return c.fail(y, fmt.Sprintf("document nested more than %d levels deep", maxYAMLDepth))
	}
	pos := plan.Pos{File: c.file, Line: y.Line, Col: y.Column}
	if y.Anchor != "" {
		return c.fail(y, fmt.Sprintf("YAML anchor &%s: anchors and aliases are not supported in pipelines; use a template instead", y.Anchor))
	}
	switch y.Kind {
	case yaml.DocumentNode:
		if len(y.Content) == 0 {
			return &Node{Kind: NullNode, Pos: pos}
		}
		return c.convert(y.Content[0], depth+1)
	case yaml.AliasNode:
		return c.fail(y, "YAML alias: anchors and aliases are not supported in pipelines; use a template instead")
	case yaml.MappingNode:
		n := &Node{Kind: MappingNode, Pos: pos, Pairs: make([]Pair, 0, len(y.Content)/2)}
		seen := map[string]bool{}
		for i := 0; i+1 < len(y.Content); i += 2 {
			k := c.convert(y.Content[i], depth+1)
			v := c.convert(y.Content[i+1], depth+1)
			if k.Kind != ScalarNode {
				return c.fail(y.Content[i], "mapping key must be a string, not "+k.kindName())
			}
			if y.Content[i].Tag == "!!merge" {
				return c.fail(y.Content[i], "YAML merge key <<: not supported in pipelines; use a template instead")
			}
			if seen[k.Value] && !strings.HasPrefix(strings.TrimSpace(k.Value), "${{") {
				return c.fail(y.Content[i], fmt.Sprintf("duplicate key %q", k.Value))
			}
			seen[k.Value] = true
			k.Tag = TagStr
			n.Pairs = append(n.Pairs, Pair{k, v})
		}
		return n
	case yaml.SequenceNode:
		n := &Node{Kind: SequenceNode, Pos: pos, Items: make([]*Node, 0, len(y.Content))}
		for _, it := range y.Content {
			n.Items = append(n.Items, c.convert(it, depth+1))
		}
		return n
	case yaml.ScalarNode:
		n := &Node{Kind: ScalarNode, Tag: TagStr, Value: y.Value, Pos: pos}
		if y.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			n.style = styleBlock
			return n
		}
		if y.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			n.style = styleQuoted
			return n
		}
		switch y.ShortTag() {
		case "!!null":
			return &Node{Kind: NullNode, Tag: TagNull, Value: y.Value, Pos: pos}
		case "!!bool":
			n.Tag = TagBool
		case "!!int":
			n.Tag = TagInt
		case "!!float":
			n.Tag = TagFloat
		}
		return n
	}
	return c.fail(y, "unsupported YAML node")
}
