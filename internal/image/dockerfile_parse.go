package image

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// Instruction is one Dockerfile instruction after line continuations are
// joined: its command, leading --flags and the rest of the line.
type Instruction struct {
	// Line is the 1-based line the instruction starts on.
	Line int
	// Cmd is the instruction, upper case ("FROM", "COPY").
	Cmd string
	// Flags are the leading --name=value options, in order.
	Flags []Flag
	// Rest is the text after the command and its flags, trimmed.
	Rest string
	// JSON is set when Rest is a JSON array of strings (exec form); Args then
	// holds its elements.
	JSON bool
	// Args are the JSON array's elements when JSON is set.
	Args []string
	// Original is the instruction as written, continuations joined.
	Original string
}

// Flag is one --name=value option of an instruction.
type Flag struct {
	Name, Value string
}

// Flag returns the value of the flag named name and whether it was given.
func (in Instruction) Flag(name string) (string, bool) {
	for _, f := range in.Flags {
		if f.Name == name {
			return f.Value, true
		}
	}
	return "", false
}

// Dockerfile is a parsed Dockerfile.
type Dockerfile struct {
	// File names the Dockerfile in error messages.
	File string
	// Escape is the escape character (the escape parser directive; default '\').
	Escape rune
	// Instructions are in file order.
	Instructions []Instruction
}

// ParseError is a Dockerfile syntax or semantic error at a line.
type ParseError struct {
	File string
	Line int
	Msg  string
	// Err, when set, is the sentinel the error matches with errors.Is.
	Err error
}

// Unwrap returns e.Err.
func (e *ParseError) Unwrap() error { return e.Err }

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// knownCmds are the instructions ParseDockerfile accepts.
var knownCmds = map[string]bool{
	"FROM": true, "RUN": true, "CMD": true, "LABEL": true, "MAINTAINER": true, "EXPOSE": true,
	"ENV": true, "ADD": true, "COPY": true, "ENTRYPOINT": true, "VOLUME": true, "USER": true,
	"WORKDIR": true, "ARG": true, "ONBUILD": true, "STOPSIGNAL": true, "HEALTHCHECK": true, "SHELL": true,
}

// flagCmds take leading --flags.
var flagCmds = map[string]bool{"FROM": true, "COPY": true, "ADD": true, "RUN": true, "HEALTHCHECK": true}

// jsonCmds may be written in exec (JSON array) form.
var jsonCmds = map[string]bool{
	"RUN": true, "CMD": true, "ENTRYPOINT": true, "SHELL": true, "VOLUME": true, "COPY": true, "ADD": true,
}

// ParseDockerfile parses src (the contents of the Dockerfile named file) into
// instructions: parser directives (escape; syntax is ignored), comments,
// line continuations with the escape character, leading --flags and the exec
// form. It checks only the syntax; Build checks what the instructions mean.
func ParseDockerfile(file string, src []byte) (*Dockerfile, error) {
	df := &Dockerfile{File: file, Escape: '\\'}
	lines := strings.Split(strings.ReplaceAll(string(src), "\r\n", "\n"), "\n")
	if len(lines) > 0 {
		lines[0] = strings.TrimPrefix(lines[0], "\ufeff")
	}

	// Parser directives: "# key=value" lines at the very top.
	i := 0
	seen := map[string]bool{}
	for ; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(t, "#") {
			break
		}
		k, v, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(t, "#")), "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || strings.ContainsFunc(k, unicode.IsSpace) || (k != "escape" && k != "syntax" && k != "check") {
			break
		}
		if seen[k] {
			return nil, &ParseError{File: file, Line: i + 1, Msg: fmt.Sprintf("parser directive %s given twice", k)}
		}
		seen[k] = true
		if k == "escape" {
			switch v = strings.TrimSpace(v); v {
			case "\\":
				df.Escape = '\\'
			case "`":
				df.Escape = '`'
			default:
				return nil, &ParseError{File: file, Line: i + 1, Msg: fmt.Sprintf("escape directive %q: use \\ or `", v)}
			}
		}
	}

	for ; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		start := i
		var b strings.Builder
		for {
			cur := strings.TrimRightFunc(lines[i], unicode.IsSpace)
			if strings.HasSuffix(cur, string(df.Escape)) {
				b.WriteString(strings.TrimSuffix(cur, string(df.Escape)))
				// Skip comment and empty lines inside a continuation.
				for i+1 < len(lines) {
					n := strings.TrimSpace(lines[i+1])
					if n != "" && !strings.HasPrefix(n, "#") {
						break
					}
					i++
				}
				if i+1 >= len(lines) {
					break
				}
				i++
				continue
			}
			b.WriteString(cur)
			break
		}
		in, err := parseInstruction(strings.TrimSpace(b.String()))
		if err != nil {
			return nil, &ParseError{File: file, Line: start + 1, Msg: err.Error()}
		}
		in.Line = start + 1
		in.Original = strings.TrimSpace(b.String())
		df.Instructions = append(df.Instructions, in)
	}
	if len(df.Instructions) == 0 {
		return nil, &ParseError{File: file, Msg: "the Dockerfile has no instructions: it needs at least a FROM"}
	}
	return df, nil
}

// parseInstruction splits one joined line into command, flags and rest.
func parseInstruction(s string) (Instruction, error) {
	var cmd, rest string
	if j := strings.IndexFunc(s, unicode.IsSpace); j >= 0 {
		cmd, rest = s[:j], s[j:]
	} else {
		cmd, rest = s, ""
	}
	in := Instruction{Cmd: strings.ToUpper(cmd)}
	if !knownCmds[in.Cmd] {
		return in, fmt.Errorf("unknown instruction %s: see https://docs.docker.com/reference/dockerfile/", cmd)
	}
	rest = strings.TrimSpace(rest)
	// Flags come first: --name=value or --name (boolean).
	if flagCmds[in.Cmd] {
		for strings.HasPrefix(rest, "--") {
			word, after := rest, ""
			if j := strings.IndexFunc(rest, unicode.IsSpace); j >= 0 {
				word, after = rest[:j], rest[j:]
			}
			name, value, hasValue := strings.Cut(strings.TrimPrefix(word, "--"), "=")
			if name == "" {
				return in, fmt.Errorf("%s: empty flag %q", in.Cmd, word)
			}
			if !hasValue {
				value = "true"
			}
			in.Flags = append(in.Flags, Flag{Name: strings.ToLower(name), Value: value})
			rest = strings.TrimSpace(after)
		}
	}
	in.Rest = rest
	if jsonCmds[in.Cmd] && strings.HasPrefix(rest, "[") {
		var args []string
		if err := json.Unmarshal([]byte(rest), &args); err == nil {
			in.JSON, in.Args = true, args
		} else if in.Cmd == "SHELL" {
			return in, fmt.Errorf("SHELL needs a JSON array of strings, as in SHELL [\"/bin/sh\", \"-c\"]: %v", err)
		}
	}
	if in.Cmd == "SHELL" && !in.JSON {
		return in, fmt.Errorf("SHELL needs a JSON array of strings, as in SHELL [\"/bin/sh\", \"-c\"]")
	}
	return in, nil
}

// lexer splits and expands words the way Dockerfile instructions do:
// single quotes are literal, double quotes allow $ expansion and escapes,
// the escape character quotes the next character, and $VAR, ${VAR},
// ${VAR:-default} and ${VAR:+alternative} expand from lookup.
type lexer struct {
	escape rune
	lookup func(string) (string, bool)
}

// words splits s into expanded words on unquoted whitespace.
func (l lexer) words(s string) ([]string, error) {
	return l.process(s, true)
}

// word expands s as one word (whitespace kept).
func (l lexer) word(s string) (string, error) {
	w, err := l.process(s, false)
	if err != nil {
		return "", err
	}
	return strings.Join(w, ""), nil
}

func (l lexer) process(s string, split bool) ([]string, error) {
	rs := []rune(s)
	var out []string
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			out = append(out, cur.String())
		}
		cur.Reset()
		inWord = false
	}
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case split && unicode.IsSpace(r):
			flush()
		case r == '\'':
			inWord = true
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				j++
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("unterminated single quote in %q", s)
			}
			cur.WriteString(string(rs[i+1 : j]))
			i = j
		case r == '"':
			inWord = true
			j := i + 1
			for ; j < len(rs) && rs[j] != '"'; j++ {
				switch {
				case rs[j] == l.escape && j+1 < len(rs):
					if n := rs[j+1]; n == '"' || n == '$' || n == l.escape {
						cur.WriteRune(n)
					} else {
						cur.WriteRune(rs[j])
						cur.WriteRune(n)
					}
					j++
				case rs[j] == '$':
					v, n, err := l.variable(rs, j)
					if err != nil {
						return nil, err
					}
					cur.WriteString(v)
					j = n - 1
				default:
					cur.WriteRune(rs[j])
				}
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("unterminated double quote in %q", s)
			}
			i = j
		case r == l.escape:
			inWord = true
			if i+1 < len(rs) {
				cur.WriteRune(rs[i+1])
				i++
			}
		case r == '$':
			v, n, err := l.variable(rs, i)
			if err != nil {
				return nil, err
			}
			// An empty expansion adds no word, as in the shell.
			inWord = inWord || v != ""
			cur.WriteString(v)
			i = n - 1
		default:
			inWord = true
			cur.WriteRune(r)
		}
	}
	flush()
	if !split && out == nil {
		out = []string{""}
	}
	return out, nil
}

// variable expands the reference starting with '$' at rs[i]; it returns the
// value and the index just after the reference.
func (l lexer) variable(rs []rune, i int) (string, int, error) {
	get := func(name string) (string, bool) {
		if l.lookup == nil {
			return "", false
		}
		return l.lookup(name)
	}
	j := i + 1
	if j >= len(rs) {
		return "$", j, nil
	}
	if rs[j] != '{' {
		k := j
		for k < len(rs) && (rs[k] == '_' || unicode.IsLetter(rs[k]) || unicode.IsDigit(rs[k])) {
			k++
		}
		if k == j {
			return "$", j, nil
		}
		v, _ := get(string(rs[j:k]))
		return v, k, nil
	}
	end := j + 1
	depth := 1
	for ; end < len(rs); end++ {
		if rs[end] == '{' {
			depth++
		} else if rs[end] == '}' {
			depth--
			if depth == 0 {
				break
			}
		}
	}
	if end >= len(rs) {
		return "", 0, fmt.Errorf("missing } in %q", string(rs[i:]))
	}
	body := string(rs[j+1 : end])
	name, word, op := body, "", ""
	for _, o := range []string{":-", ":+", "-", "+"} {
		if k := strings.Index(body, o); k > 0 {
			name, word, op = body[:k], body[k+len(o):], o
			break
		}
	}
	v, set := get(name)
	if op != "" {
		w, err := l.word(word)
		if err != nil {
			return "", 0, err
		}
		switch op {
		case ":-":
			if v == "" {
				v = w
			}
		case "-":
			if !set {
				v = w
			}
		case ":+":
			if v != "" {
				v = w
			}
		case "+":
			if set {
				v = w
			}
		}
	}
	return v, end + 1, nil
}

// keyValues parses "k=v k2='v 2'" (or the legacy "key value" form when
// legacy is allowed and the first word has no '=') into ordered pairs,
// expanding variables.
func (l lexer) keyValues(s string, legacy bool) ([][2]string, error) {
	first, _, _ := strings.Cut(strings.TrimSpace(s), " ")
	if legacy && !strings.Contains(first, "=") {
		key := first
		rest := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), first))
		v, err := l.word(rest)
		if err != nil {
			return nil, err
		}
		if key == "" {
			return nil, fmt.Errorf("needs a key")
		}
		return [][2]string{{key, v}}, nil
	}
	ws, err := l.words(s)
	if err != nil {
		return nil, err
	}
	var out [][2]string
	for _, w := range ws {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not key=value", w)
		}
		out = append(out, [2]string{k, v})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("needs at least one key=value")
	}
	return out, nil
}
