package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// serveRegistryCmd runs `conveyor registry serve` in-process on a free port
// and returns its address; the server stops with the test.
func serveRegistryCmd(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	root := newRootCmd()
	root.SetOut(pw)
	root.SetErr(io.Discard)
	root.SetArgs(append([]string{"registry", "serve", "--listen", "127.0.0.1:0", "--data", t.TempDir()}, args...))
	done := make(chan error, 1)
	go func() {
		done <- root.ExecuteContext(ctx)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("registry serve after shutdown: %v", err)
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("registry serve printed no address: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	return strings.TrimSpace(line)
}

func TestRegistryServeAndPromote(t *testing.T) {
	nonprod := serveRegistryCmd(t)
	prod := serveRegistryCmd(t, "--name", "prod")
	img, err := random.Image(256, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(nonprod + "/app:1.0.0")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()

	out, progress, code := executeSplit(t, "promote", nonprod+"/app:1.0.0", prod+"/app")
	if code != exitOK || strings.TrimSpace(out) != want.String() {
		t.Fatalf("promote: exit %d, output %q; want 0 and the digest %s", code, out, want)
	}
	if !strings.Contains(progress, "tagged "+prod+"/app:1.0.0") {
		t.Errorf("promote progress does not say it tagged: %q", progress)
	}
	out, _, code = executeSplit(t, "promote", nonprod+"/app:1.0.0", prod+"/app", "--tag", "stable", "--output", "json")
	var p struct {
		Digest string
		Tags   []string
	}
	if code != exitOK || json.Unmarshal([]byte(out), &p) != nil || p.Digest != want.String() || len(p.Tags) != 1 {
		t.Fatalf("promote --output json: exit %d, output %q", code, out)
	}

	other, _ := random.Image(256, 1)
	otherRef, _ := name.ParseReference(nonprod + "/app:1.0.1")
	if err := remote.Write(otherRef, other); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		says string
	}{
		{"unsigned", []string{"promote", nonprod + "/app:1.0.1", prod + "/app", "--require-signature"}, exitFailed, "has no signature"},
		{"prod tag re-pointed", []string{"promote", nonprod + "/app:1.0.1", prod + "/app:1.0.0"}, exitFailed, "immutable in the prod registry"},
		{"bad target", []string{"promote", nonprod + "/app:1.0.1", prod + "/App"}, exitBadUser, "invalid reference"},
		{"bad registry name", []string{"registry", "serve", "--name", "staging"}, exitBadUser, "unknown registry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := newRootCmd()
			root.SetOut(io.Discard)
			root.SetErr(io.Discard)
			root.SetArgs(tc.args)
			err := root.ExecuteContext(t.Context())
			if code := exitCodeOf(err); code != tc.code || err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("exit %d with %v; want exit %d with an error saying %q", code, err, tc.code, tc.says)
			}
		})
	}
}

func exitCodeOf(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitFailed
}

// executeSplit runs the CLI in-process and returns stdout, stderr and the
// exit code.
func executeSplit(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	root := newRootCmd()
	var out, errOut strings.Builder
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	code := exitCodeOf(root.ExecuteContext(t.Context()))
	return out.String(), errOut.String(), code
}
