package deploy

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseHelmArgs(t *testing.T) {
	tests := []struct {
		in   string
		want HelmArgs
	}{
		{"", HelmArgs{}},
		{"--atomic --timeout 30s --create-namespace", HelmArgs{Atomic: true, Timeout: 30 * time.Second, CreateNamespace: true}},
		{"--wait=false --timeout=2m --version ^1.2", HelmArgs{Timeout: 2 * time.Minute, Version: "^1.2"}},
		{"--timeout 300", HelmArgs{Timeout: 300 * time.Second}},
		{"web 3 --wait", HelmArgs{Positional: []string{"web", "3"}, Wait: true}},
		{"-n prod -f a.yaml --values=b.yaml --set x=1 --set-string y=2", HelmArgs{
			Namespace: "prod", Values: []string{"a.yaml", "b.yaml"}, Set: []string{"x=1"}, SetString: []string{"y=2"}}},
		{"--set 'msg=hello world' --description \"a \\\"quoted\\\" one\"", HelmArgs{
			Set: []string{"msg=hello world"}, Description: `a "quoted" one`}},
		{"--install\n--force\n--history-max 5", HelmArgs{Install: true, Force: true, HistoryMax: 5}},
		{"-- --not-a-flag", HelmArgs{Positional: []string{"--not-a-flag"}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseHelmArgs(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseHelmArgs(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseHelmArgsErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"--atomic --frobnicate --post-renderer x", "unknown helm flag(s) --frobnicate, --post-renderer: "},
		{"--timeout", "--timeout needs a value"},
		{"--timeout soon", `--timeout "soon": want a duration`},
		{"--wait=maybe", "--wait=maybe: want true or false"},
		{"--set 'x=1", "unterminated ' quote"},
		{`--set "x=1`, `unterminated " quote`},
		{"--history-max -1", "--history-max"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseHelmArgs(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseHelmArgs(%q) error = %v, want one containing %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"  a  b\tc\nd ", []string{"a", "b", "c", "d"}},
		{`'' "" x`, []string{"", "", "x"}},
		{`a\ b 'c d'"e"`, []string{"a b", "c de"}},
		{`"a\\b\n"`, []string{`a\b\n`}},
	}
	for _, tt := range tests {
		got, err := SplitArgs(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("SplitArgs(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}
