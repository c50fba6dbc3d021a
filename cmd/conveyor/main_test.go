package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
)

// execute runs the CLI in-process and returns stdout and stderr together, and
// the exit code.
func execute(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code := executeTo(t, nil, &out, &out, args...)
	return out.String(), code
}

// executeTo runs the CLI in-process with the given stdin (nil for none) and
// outputs, and returns the exit code.
func executeTo(t *testing.T, stdin io.Reader, stdout, stderr io.Writer, args ...string) int {
	t.Helper()
	root := newRootCmd()
	if stdin != nil {
		root.SetIn(stdin)
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	if err == nil {
		return exitOK
	}
	io.WriteString(stderr, err.Error()) // as main prints it
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitFailed
}

func TestVersionJSONFromEnvironment(t *testing.T) {
	t.Setenv("CONVEYOR_OUTPUT", "json")
	out, code := execute(t, "version")
	if code != exitOK {
		t.Fatalf("exit %d, want 0; output %q", code, out)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("CONVEYOR_OUTPUT=json did not give JSON: %v\n%s", err, out)
	}
	if got["version"] == "" {
		t.Errorf("no version in %v", got)
	}
}

func TestFlagBeatsEnvironment(t *testing.T) {
	t.Setenv("CONVEYOR_OUTPUT", "json")
	out, code := execute(t, "version", "--output", "text")
	if code != exitOK || !bytes.HasPrefix([]byte(out), []byte("conveyor ")) {
		t.Fatalf("exit %d, output %q: want the text form", code, out)
	}
}

func TestBadInputExitsTwo(t *testing.T) {
	for _, args := range [][]string{
		{"version", "--output", "yaml"},
		{"version", "--no-such-flag"},
	} {
		if _, code := execute(t, args...); code != exitBadUser {
			t.Errorf("conveyor %v: exit %d, want %d", args, code, exitBadUser)
		}
	}
	t.Setenv("CONVEYOR_OUTPUT", "xml")
	if _, code := execute(t, "version"); code != exitBadUser {
		t.Errorf("CONVEYOR_OUTPUT=xml: exit %d, want %d", code, exitBadUser)
	}
}
