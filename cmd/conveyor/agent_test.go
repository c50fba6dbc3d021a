package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAgentBackendFlags(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-kubeconfig")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown backend", []string{"--backend", "docker"}, `--backend "docker": want local or kubernetes`},
		{"no runner image", []string{"--backend", "kubernetes"}, "--runner-image: required with --backend kubernetes"},
		{"bad node selector", []string{"--backend", "kubernetes", "--runner-image", "r", "--node-selector", "zone"}, `--node-selector "zone": want KEY=VALUE`},
		{"no cluster", []string{"--backend", "kubernetes", "--runner-image", "r", "--kubeconfig", missing}, "--backend kubernetes: no cluster"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"agent", "--server", "http://127.0.0.1:1", "--token", "t"}, tc.args...)
			_, stderr, code := runCLI(t, dir, args...)
			if code != exitBadUser || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, exitBadUser, tc.want)
			}
		})
	}
}

func TestRunnerImageRefusesWhatCannotRunInAPod(t *testing.T) {
	dir := t.TempDir()
	notELF := filepath.Join(dir, "busybox")
	if err := os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The test binary is dynamically linked (cgo) or, when static, the
	// busybox given is not an executable: either way nothing is pushed.
	_, stderr, code := runCLI(t, dir, "executor", "runner-image", "--busybox", notELF, "127.0.0.1:1/runner:1")
	if code != exitBadUser || !strings.Contains(stderr, "runner image:") {
		t.Errorf("exit %d, stderr %q; want %d and a runner image error", code, stderr, exitBadUser)
	}
}
