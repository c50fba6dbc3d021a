package expr

import (
	"strings"
)

// span is one ${{ }} in a string: [start, end) covers the delimiters, and
// inner the expression text between them.
type span struct {
	start, end int
	inner      string
	innerOff   int
}

// templateSpans finds each ${{ expr }} in s. The closing }} is the first
// one outside a quoted string.
func templateSpans(s string) ([]span, error) {
	var out []span
	for i := 0; ; {
		j := strings.Index(s[i:], "${{")
		if j < 0 {
			return out, nil
		}
		start := i + j
		k := start + 3
		inStr := false
		end := -1
		for ; k < len(s); k++ {
			c := s[k]
			if c == '\'' {
				inStr = !inStr // '' inside a string toggles twice
				continue
			}
			if !inStr && c == '}' && k+1 < len(s) && s[k+1] == '}' {
				end = k
				break
			}
		}
		if end < 0 {
			return nil, errorf(start, "${{ is not closed by }}")
		}
		out = append(out, span{start: start, end: end + 2, inner: s[start+3 : end], innerOff: start + 3})
		i = end + 2
	}
}

// HasTemplate reports whether s contains a ${{ }} expression.
func HasTemplate(s string) bool { return strings.Contains(s, "${{") }

// TemplateExpression reports whether s, ignoring surrounding white space,
// is exactly one ${{ ... }}, and returns the text inside (as for
// "${{ if eq(a, b) }}" keys, or "${{ each x in y }}").
func TemplateExpression(s string) (inner string, ok bool) {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "${{") {
		return "", false
	}
	sp, err := templateSpans(t)
	if err != nil || len(sp) != 1 || sp[0].start != 0 || sp[0].end != len(t) {
		return "", false
	}
	return sp[0].inner, true
}

// ExpandTemplate replaces each ${{ expr }} in s by its value. When s is,
// ignoring surrounding white space, exactly one ${{ }}, the raw value is
// returned (an object, array, number...); otherwise the result is a string
// with each value converted by ToString, and an array or object inside a
// longer string is an error. A string without ${{ is returned unchanged.
// Errors are *Error values whose Offset is in s.
func ExpandTemplate(s string, c *Context) (any, error) {
	if !HasTemplate(s) {
		return s, nil
	}
	spans, err := templateSpans(s)
	if err != nil {
		return nil, err
	}
	eval := func(sp span) (any, error) {
		e, err := Parse(sp.inner)
		if err != nil {
			return nil, shift(err, sp.innerOff)
		}
		v, err := e.Eval(c)
		if err != nil {
			return nil, shift(err, sp.innerOff)
		}
		return v, nil
	}
	if len(spans) == 1 {
		lead := len(s) - len(strings.TrimLeft(s, " \t\r\n"))
		trail := len(strings.TrimRight(s, " \t\r\n"))
		if spans[0].start == lead && spans[0].end == trail {
			return eval(spans[0])
		}
	}
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp.start])
		v, err := eval(sp)
		if err != nil {
			return nil, err
		}
		str, ok := toString(v)
		if !ok {
			return nil, errorf(sp.start, "${{ %s }} is %s %s, which cannot be part of a string: make it the whole value, or pick a field, or use convertToJson()",
				strings.TrimSpace(sp.inner), article(kindOf(v)), strings.ToLower(kindOf(v).String()))
		}
		b.WriteString(str)
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String(), nil
}

func article(k kind) string {
	if k == kArray || k == kObject {
		return "an"
	}
	return "a"
}

// shift moves an *Error's offset by off.
func shift(err error, off int) error {
	if e, ok := err.(*Error); ok {
		c := *e
		c.Offset += off
		return &c
	}
	return err
}

// RuntimeExpression reports whether s, ignoring surrounding white space, is
// exactly one runtime expression $[ ... ], and returns the text inside.
func RuntimeExpression(s string) (inner string, ok bool) {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "$[") || !strings.HasSuffix(t, "]") {
		return "", false
	}
	depth := 0
	inStr := false
	for i := 1; i < len(t); i++ {
		switch c := t[i]; {
		case c == '\'':
			inStr = !inStr
		case inStr:
		case c == '[':
			depth++
		case c == ']':
			depth--
			if depth == 0 {
				if i != len(t)-1 {
					return "", false
				}
				return t[2:i], true
			}
		}
	}
	return "", false
}

// ExpandMacros replaces each macro $(name) in s by lookup(name), where a
// name is letters, digits, '.', '_' and '-' (the caller looks it up
// ignoring case). A macro lookup does not know is left as written, as
// Azure Pipelines leaves it; replaced values are not expanded again.
func ExpandMacros(s string, lookup func(name string) (string, bool)) string {
	if !strings.Contains(s, "$(") {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i+1 < len(s); i++ {
		if s[i] != '$' || s[i+1] != '(' {
			continue
		}
		j := i + 2
		for j < len(s) && isMacroChar(s[j]) {
			j++
		}
		if j == i+2 || j >= len(s) || s[j] != ')' {
			continue
		}
		v, ok := lookup(s[i+2 : j])
		if !ok {
			i = j
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(v)
		last = j + 1
		i = j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// Macros returns the names of the macros $(name) in s, in order.
func Macros(s string) []string {
	var out []string
	ExpandMacros(s, func(name string) (string, bool) {
		out = append(out, name)
		return "", false
	})
	return out
}

func isMacroChar(c byte) bool {
	return c == '.' || c == '_' || c == '-' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}
