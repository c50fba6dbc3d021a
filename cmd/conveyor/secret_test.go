package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// executeStdin runs the CLI like execute with stdin, returning stdout, stderr
// and the exit code separately.
func executeStdin(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := executeTo(t, strings.NewReader(stdin), &out, &errOut, args...)
	return out.String(), errOut.String(), code
}

func TestSecretCLIRoundTrip(t *testing.T) {
	t.Setenv("CONVEYOR_VAULT_KEY", "")
	data := t.TempDir()
	run := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		return executeStdin(t, stdin, append(args, "--data", data)...)
	}

	if _, errOut, code := run("first-value\n", "secret", "set", "app/db"); code != exitOK {
		t.Fatalf("set: exit %d: %s", code, errOut)
	}
	valueFile := filepath.Join(t.TempDir(), "v")
	if err := os.WriteFile(valueFile, []byte("second\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := run("", "secret", "set", "app/db", "--file", valueFile); code != exitOK {
		t.Fatalf("set --file: exit %d: %s", code, errOut)
	}

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"latest keeps the file verbatim", []string{"secret", "get", "app/db"}, "second\n"},
		{"version 1 lost the stdin newline", []string{"secret", "get", "app/db", "--version", "1"}, "first-value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := run("", tc.args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if diff := cmp.Diff(tc.want, out); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}

	out, errOut, code := run("", "secret", "list", "--output", "json")
	if code != exitOK {
		t.Fatalf("list: exit %d: %s", code, errOut)
	}
	var list []struct {
		Name     string `json:"name"`
		Versions int    `json:"versions"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("list --output json: %v\n%s", err, out)
	}
	type entry = struct {
		Name     string `json:"name"`
		Versions int    `json:"versions"`
	}
	if diff := cmp.Diff([]entry{{Name: "app/db", Versions: 2}}, list); diff != "" {
		t.Errorf("list (-want +got)\n%s", diff)
	}
	if strings.Contains(out, "second") || strings.Contains(out, "first-value") {
		t.Errorf("list shows a value:\n%s", out)
	}
	textOut, _, _ := run("", "secret", "list")
	if !strings.Contains(textOut, "app/db") || strings.Contains(textOut, "second") {
		t.Errorf("text list:\n%s", textOut)
	}

	// The key file appeared with mode 0600; the vault file holds no plaintext.
	st, err := os.Stat(filepath.Join(data, "vault.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("vault.key: %v, %v; want mode 0600", st, err)
	}
	raw, err := os.ReadFile(filepath.Join(data, "vault.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"first-value", base64.StdEncoding.EncodeToString([]byte("first-value"))} {
		if bytes.Contains(raw, []byte(v)) {
			t.Errorf("vault.json contains %q", v)
		}
	}

	if _, errOut, code := run("", "secret", "rm", "app/db"); code != exitOK {
		t.Fatalf("rm: exit %d: %s", code, errOut)
	}
	if _, errOut, code := run("", "secret", "get", "app/db"); code != exitFailed || !strings.Contains(errOut, `secret "app/db": not found`) {
		t.Errorf("get after rm: exit %d, %q; want 1 and not found", code, errOut)
	}
}

func TestSecretCLIDataFromEnvironment(t *testing.T) {
	data := t.TempDir()
	t.Setenv("CONVEYOR_DATA", data)
	t.Setenv("CONVEYOR_VAULT_KEY", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)))
	if _, errOut, code := executeStdin(t, "v", "secret", "set", "n"); code != exitOK {
		t.Fatalf("set: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(data, "vault.json")); err != nil {
		t.Errorf("CONVEYOR_DATA not used: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, "vault.key")); err == nil {
		t.Errorf("vault.key created although CONVEYOR_VAULT_KEY is set")
	}
	// Another key opens nothing.
	t.Setenv("CONVEYOR_VAULT_KEY", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{8}, 32)))
	out, errOut, code := executeStdin(t, "", "secret", "get", "n")
	if code != exitFailed || out != "" || !strings.Contains(errOut, "authentication failed: wrong key or tampered data") {
		t.Errorf("wrong key: exit %d, out %q, err %q", code, out, errOut)
	}
}

func TestSecretCLIBadInput(t *testing.T) {
	data := t.TempDir()
	t.Setenv("CONVEYOR_VAULT_KEY", "")
	keyFile := filepath.Join(t.TempDir(), "loose")
	if err := os.MkdirAll(keyFile, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(keyFile, "vault.key"), bytes.Repeat([]byte{1}, 32), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     string
		stdin   string
		args    []string
		wantErr string
	}{
		{"bad name", "", "v", []string{"secret", "set", "bad name", "--data", data}, `secret name "bad name"`},
		{"empty value", "", "\n", []string{"secret", "set", "n", "--data", data}, "empty value"},
		{"missing name", "", "", []string{"secret", "get", "--data", data}, "accepts 1 arg"},
		{"bad version", "", "", []string{"secret", "get", "n", "--version", "0", "--data", data}, "versions start at 1"},
		{"bad output", "", "", []string{"secret", "list", "--output", "yaml", "--data", data}, `--output "yaml"`},
		{"malformed key", "%%%", "v", []string{"secret", "set", "n", "--data", data}, "CONVEYOR_VAULT_KEY: not base64"},
		{"loose key file", "", "v", []string{"secret", "set", "n", "--data", keyFile}, "mode 0644"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CONVEYOR_VAULT_KEY", tc.env)
			_, errOut, code := executeStdin(t, tc.stdin, tc.args...)
			if code != exitBadUser || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("exit %d, err %q; want 2 and %q", code, errOut, tc.wantErr)
			}
		})
	}
}
