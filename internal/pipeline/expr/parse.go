package expr

import (
	"strconv"
	"strings"
)

// Limits that keep parsing and evaluation bounded, as Azure Pipelines
// bounds them.
const (
	// MaxLength is the longest expression source accepted.
	MaxLength = 21000
	// MaxDepth is the deepest nesting of function calls and indexes accepted.
	MaxDepth = 50
)

// Expr is a parsed expression. It is immutable and safe for concurrent use.
type Expr struct {
	src  string
	root node
}

// node is an AST node.
type node interface {
	pos() int
	write(b *strings.Builder)
}

type literal struct {
	off int
	val any // nil, bool, float64, string, Version
}

type named struct {
	off  int
	name string
}

type call struct {
	off   int
	name  string
	lname string // name in lower case
	args  []node
}

// index is a dereference a.b (key set, dot true), a['b'] or a[0] (index
// set), or a wildcard a.* / a[*] (wild true).
type index struct {
	off    int
	target node
	key    string
	dot    bool
	wild   bool
	idx    node
}

func (n *literal) pos() int { return n.off }
func (n *named) pos() int   { return n.off }
func (n *call) pos() int    { return n.off }
func (n *index) pos() int   { return n.off }

func (n *literal) write(b *strings.Builder) { b.WriteString(literalString(n.val)) }
func (n *named) write(b *strings.Builder)   { b.WriteString(n.name) }
func (n *call) write(b *strings.Builder) {
	b.WriteString(n.name)
	b.WriteByte('(')
	for i, a := range n.args {
		if i > 0 {
			b.WriteString(", ")
		}
		a.write(b)
	}
	b.WriteByte(')')
}
func (n *index) write(b *strings.Builder) {
	n.target.write(b)
	switch {
	case n.wild && n.dot:
		b.WriteString(".*")
	case n.wild:
		b.WriteString("[*]")
	case n.dot:
		b.WriteByte('.')
		b.WriteString(n.key)
	default:
		b.WriteByte('[')
		n.idx.write(b)
		b.WriteByte(']')
	}
}

func literalString(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		if x {
			return "true"
		}
		return "false"
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if strings.HasPrefix(s, "-") || (s[0] >= '0' && s[0] <= '9') {
			return s
		}
		return s // NaN/Inf cannot come from the parser
	case string:
		return "'" + strings.ReplaceAll(x, "'", "''") + "'"
	case Version:
		return x.String()
	}
	return ToString(v)
}

// String returns the expression in canonical form: parsing it again gives
// the same expression.
func (e *Expr) String() string {
	var b strings.Builder
	e.root.write(&b)
	return b.String()
}

// Source returns the text the expression was parsed from.
func (e *Expr) Source() string { return e.src }

// Parse parses the text of an expression: the inside of ${{ }} or $[ ], or
// a condition. Errors are *Error values with the offset of the problem.
// Function names are checked when the expression is evaluated or
// validated, since callers may supply their own.
func Parse(src string) (*Expr, error) {
	if len(src) > MaxLength {
		return nil, errorf(MaxLength, "expression is longer than the maximum of %d characters", MaxLength)
	}
	p := &parser{lex: lexer{src: src}}
	p.next()
	if p.tok.kind == tEOF {
		return nil, errorf(p.tok.off, "expected an expression")
	}
	root, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.unexpected()
	}
	return &Expr{src: src, root: root}, nil
}

// MustParse is Parse that panics on error, for expressions in Go source.
func MustParse(src string) *Expr {
	e, err := Parse(src)
	if err != nil {
		panic("expr: " + err.Error())
	}
	return e
}

type tokKind uint8

const (
	tEOF tokKind = iota
	tLiteral
	tName
	tLParen
	tRParen
	tLBracket
	tRBracket
	tComma
	tDot
	tStar
	tError
)

type token struct {
	kind tokKind
	off  int
	text string
	val  any
	err  *Error
}

type lexer struct {
	src  string
	i    int
	last tokKind
	has  bool // a token was produced
}

func isWhite(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isNameStart(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func isNameChar(c byte) bool { return isNameStart(c) || ('0' <= c && c <= '9') || c == '-' }

func isPunct(c byte) bool {
	switch c {
	case '(', ')', '[', ']', ',', '*', '\'':
		return true
	}
	return isWhite(c)
}

func (l *lexer) next() token {
	for l.i < len(l.src) && isWhite(l.src[l.i]) {
		l.i++
	}
	t := l.scan()
	l.last, l.has = t.kind, true
	return t
}

func (l *lexer) scan() token {
	if l.i >= len(l.src) {
		return token{kind: tEOF, off: l.i}
	}
	start := l.i
	c := l.src[l.i]
	single := func(k tokKind) token {
		l.i++
		return token{kind: k, off: start, text: l.src[start:l.i]}
	}
	switch c {
	case '(':
		return single(tLParen)
	case ')':
		return single(tRParen)
	case '[':
		return single(tLBracket)
	case ']':
		return single(tRBracket)
	case ',':
		return single(tComma)
	case '*':
		return single(tStar)
	case '\'':
		return l.str()
	case '.':
		// A leading dot starts a number (.5) where a value is expected;
		// after a value it is a dereference.
		if !l.has || l.last == tComma || l.last == tLBracket || l.last == tLParen {
			return l.number()
		}
		return single(tDot)
	}
	if c == '-' || ('0' <= c && c <= '9') {
		return l.number()
	}
	if isNameStart(c) {
		for l.i < len(l.src) && isNameChar(l.src[l.i]) {
			l.i++
		}
		text := l.src[start:l.i]
		switch strings.ToLower(text) {
		case "true":
			return token{kind: tLiteral, off: start, text: text, val: true}
		case "false":
			return token{kind: tLiteral, off: start, text: text, val: false}
		case "null":
			return token{kind: tLiteral, off: start, text: text, val: nil}
		}
		return token{kind: tName, off: start, text: text}
	}
	l.i++
	for l.i < len(l.src) && l.src[l.i] >= 0x80 && l.src[l.i] < 0xC0 {
		l.i++ // whole UTF-8 sequence in the message
	}
	return token{kind: tError, off: start, err: errorf(start, "unexpected character %q", l.src[start:l.i])}
}

func (l *lexer) str() token {
	start := l.i
	l.i++
	var b strings.Builder
	for {
		j := strings.IndexByte(l.src[l.i:], '\'')
		if j < 0 {
			l.i = len(l.src)
			return token{kind: tError, off: start, err: errorf(start, "unterminated string: a string starts with ' and ends with ' (write '' for a quote inside)")}
		}
		b.WriteString(l.src[l.i : l.i+j])
		l.i += j + 1
		if l.i < len(l.src) && l.src[l.i] == '\'' {
			b.WriteByte('\'')
			l.i++
			continue
		}
		return token{kind: tLiteral, off: start, text: l.src[start:l.i], val: b.String()}
	}
}

// number reads a number or version literal: everything up to white space
// or punctuation, then parsed as a version when it has two or three dots.
func (l *lexer) number() token {
	start := l.i
	for l.i < len(l.src) && !isPunct(l.src[l.i]) {
		l.i++
	}
	text := l.src[start:l.i]
	if dots := strings.Count(text, "."); dots >= 2 {
		if v, ok := ParseVersion(text); ok && text[0] != '+' && !strings.ContainsAny(text, " \t") {
			return token{kind: tLiteral, off: start, text: text, val: v}
		}
		return token{kind: tError, off: start, err: errorf(start, "invalid version %q: a version is 2 to 4 dot-separated numbers, like 1.2.3", text)}
	}
	if f, ok := parseLiteralNumber(text); ok {
		return token{kind: tLiteral, off: start, text: text, val: f}
	}
	return token{kind: tError, off: start, err: errorf(start, "invalid number %q", text)}
}

// parseLiteralNumber parses a number literal: optional sign, digits with
// an optional decimal point, and an optional exponent.
func parseLiteralNumber(s string) (float64, bool) {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		ed := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			ed++
		}
		if ed == 0 {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil { // out of range
		return 0, false
	}
	return f, true
}

type parser struct {
	lex lexer
	tok token
}

func (p *parser) next() { p.tok = p.lex.next() }

func (p *parser) unexpected() error {
	switch p.tok.kind {
	case tError:
		return p.tok.err
	case tEOF:
		return errorf(p.tok.off, "unexpected end of expression")
	}
	return errorf(p.tok.off, "unexpected %q", p.tok.text)
}

func (p *parser) expr(depth int) (node, error) {
	if depth > MaxDepth {
		return nil, errorf(p.tok.off, "expression nests deeper than the maximum of %d", MaxDepth)
	}
	var n node
	switch p.tok.kind {
	case tLiteral:
		// A literal has no properties: it is never dereferenced or indexed.
		n := &literal{off: p.tok.off, val: p.tok.val}
		p.next()
		return n, nil
	case tName:
		name, off := p.tok.text, p.tok.off
		p.next()
		if p.tok.kind == tLParen {
			c, err := p.call(name, off, depth)
			if err != nil {
				return nil, err
			}
			n = c
		} else {
			n = &named{off: off, name: name}
		}
	default:
		return nil, p.unexpected()
	}
	return p.postfix(n, depth)
}

func (p *parser) call(name string, off, depth int) (node, error) {
	p.next() // (
	c := &call{off: off, name: name, lname: strings.ToLower(name)}
	if p.tok.kind == tRParen {
		p.next()
		return c, nil
	}
	for {
		a, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		c.args = append(c.args, a)
		switch p.tok.kind {
		case tComma:
			p.next()
		case tRParen:
			p.next()
			return c, nil
		case tEOF:
			return nil, errorf(p.tok.off, "missing ')' to close %s( at column %d", name, off+1)
		default:
			return nil, p.unexpected()
		}
	}
}

func (p *parser) postfix(n node, depth int) (node, error) {
	for i := 0; ; i++ {
		if depth+i > MaxDepth {
			return nil, errorf(p.tok.off, "expression nests deeper than the maximum of %d", MaxDepth)
		}
		switch p.tok.kind {
		case tDot:
			off := p.tok.off
			p.next()
			switch p.tok.kind {
			case tStar:
				n = &index{off: off, target: n, dot: true, wild: true}
			case tName:
				n = &index{off: off, target: n, dot: true, key: p.tok.text}
			case tLiteral:
				// true/false/null after a dot are property names.
				if isNameStart(p.tok.text[0]) {
					n = &index{off: off, target: n, dot: true, key: p.tok.text}
					break
				}
				return nil, errorf(p.tok.off, "expected a property name after '.'")
			default:
				if p.tok.kind == tError {
					return nil, p.tok.err
				}
				return nil, errorf(p.tok.off, "expected a property name after '.'")
			}
			p.next()
		case tLBracket:
			off := p.tok.off
			p.next()
			if p.tok.kind == tStar {
				p.next()
				n = &index{off: off, target: n, wild: true}
			} else {
				idx, err := p.expr(depth + i + 1)
				if err != nil {
					return nil, err
				}
				n = &index{off: off, target: n, idx: idx}
			}
			if p.tok.kind != tRBracket {
				if p.tok.kind == tEOF {
					return nil, errorf(p.tok.off, "missing ']' to close '[' at column %d", off+1)
				}
				return nil, p.unexpected()
			}
			p.next()
		default:
			return n, nil
		}
	}
}
