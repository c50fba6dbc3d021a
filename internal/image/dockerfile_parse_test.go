package image

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseDockerfile(t *testing.T) {
	src := "# syntax=docker/dockerfile:1\n" +
		"# escape=\\\n" +
		"\n" +
		"ARG BASE=scratch\n" +
		"FROM --platform=linux/amd64 ${BASE} AS build\n" +
		"# a comment\n" +
		"RUN echo a \\\n" +
		"  # comment inside a continuation\n" +
		"  && echo b\n" +
		"COPY --from=build --chown=1:2 a b /dst/\n" +
		"CMD [\"x\", \"y z\"]\n" +
		"ENTRYPOINT not json [\n"
	df, err := ParseDockerfile("Dockerfile", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []Instruction{
		{Line: 4, Cmd: "ARG", Rest: "BASE=scratch", Original: "ARG BASE=scratch"},
		{Line: 5, Cmd: "FROM", Flags: []Flag{{"platform", "linux/amd64"}}, Rest: "${BASE} AS build",
			Original: "FROM --platform=linux/amd64 ${BASE} AS build"},
		{Line: 7, Cmd: "RUN", Rest: "echo a   && echo b", Original: "RUN echo a   && echo b"},
		{Line: 10, Cmd: "COPY", Flags: []Flag{{"from", "build"}, {"chown", "1:2"}}, Rest: "a b /dst/",
			Original: "COPY --from=build --chown=1:2 a b /dst/"},
		{Line: 11, Cmd: "CMD", Rest: `["x", "y z"]`, JSON: true, Args: []string{"x", "y z"}, Original: `CMD ["x", "y z"]`},
		{Line: 12, Cmd: "ENTRYPOINT", Rest: "not json [", Original: "ENTRYPOINT not json ["},
	}
	if diff := cmp.Diff(want, df.Instructions); diff != "" {
		t.Errorf("instructions (-want +got):\n%s", diff)
	}
}

func TestParseDockerfileEscapeDirective(t *testing.T) {
	df, err := ParseDockerfile("Dockerfile", []byte("# escape=`\nFROM scratch\nCOPY a `\n  C:\\dir\\\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := df.Instructions[1].Rest, `a   C:\dir\`; got != want {
		t.Errorf("rest %q, want %q", got, want)
	}
}

func TestParseDockerfileErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"unknown", "FROM scratch\n\nFROBNICATE x\n", "Dockerfile:3: unknown instruction FROBNICATE"},
		{"empty", "# only a comment\n", "Dockerfile: the Dockerfile has no instructions"},
		{"shell not json", "FROM scratch\nSHELL /bin/sh -c\n", "Dockerfile:2: SHELL needs a JSON array"},
		{"bad escape", "# escape=x\nFROM scratch\n", "Dockerfile:1: escape directive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDockerfile("Dockerfile", []byte(tc.src))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %v, want one starting %q", err, tc.want)
			}
		})
	}
}

func TestLexer(t *testing.T) {
	vars := map[string]string{"A": "1", "EMPTY": "", "SP": "x y"}
	lx := lexer{escape: '\\', lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }}
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"$A ${A}b", []string{"1", "1b"}},
		{"'$A' \"$A\"", []string{"$A", "1"}},
		{`\$A "a\"b"`, []string{"$A", `a"b`}},
		{"${MISSING:-def} ${EMPTY:-e} ${EMPTY-e} ${A:+set} ${MISSING:+set}", []string{"def", "e", "set"}},
		{"$SP", []string{"x y"}},
		{"\"two words\" three", []string{"two words", "three"}},
		{"cost$ 5", []string{"cost$", "5"}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := lx.words(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := lx.words("'open"); err == nil {
		t.Error("no error for an unterminated quote")
	}
	kv, err := lx.keyValues(`a=1 b="two words" c=$A`, false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][2]string{{"a", "1"}, {"b", "two words"}, {"c", "1"}}, kv); diff != "" {
		t.Errorf("keyValues (-want +got):\n%s", diff)
	}
	kv, err = lx.keyValues(`KEY value with $A`, true)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][2]string{{"KEY", "value with 1"}}, kv); diff != "" {
		t.Errorf("legacy keyValues (-want +got):\n%s", diff)
	}
}

func TestDockerignore(t *testing.T) {
	ig := parseIgnore([]byte("# comment\n*.tmp\nsecrets\n**/*.log\n!keep.tmp\n/build/out\n"))
	for path, want := range map[string]bool{
		"a.tmp": true, "keep.tmp": false, "dir/a.tmp": false, "secrets": true, "secrets/token": true,
		"x/y/z.log": true, "z.log": true, "build/out/bin": true, "build/in": false, "main.go": false,
	} {
		if got := ig.excluded(path); got != want {
			t.Errorf("excluded(%q) = %v, want %v", path, got, want)
		}
	}
	var none *ignorer
	if none.excluded("anything") {
		t.Error("a nil ignorer excluded a path")
	}
}

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestParseExamplesGolden parses each sample Dockerfile and compares one
// line per instruction with testdata/parse/<example>.golden.
func TestParseExamplesGolden(t *testing.T) {
	for _, ex := range []string{"static", "multistage", "run"} {
		t.Run(ex, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(examples, ex, "Dockerfile"))
			if err != nil {
				t.Fatal(err)
			}
			df, err := ParseDockerfile("Dockerfile", src)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, in := range df.Instructions {
				fmt.Fprintf(&b, "%d %s", in.Line, in.Cmd)
				for _, f := range in.Flags {
					fmt.Fprintf(&b, " --%s=%s", f.Name, f.Value)
				}
				if in.JSON {
					fmt.Fprintf(&b, " exec%q\n", in.Args)
				} else {
					fmt.Fprintf(&b, " | %s\n", in.Rest)
				}
			}
			golden := filepath.Join("testdata", "parse", ex+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestParseExamplesGolden -update)", err)
			}
			if diff := cmp.Diff(string(want), b.String()); diff != "" {
				t.Errorf("%s (-want +got):\n%s", golden, diff)
			}
		})
	}
}
