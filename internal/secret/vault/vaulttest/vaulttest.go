// Package vaulttest runs a real HashiCorp Vault server in development mode
// for tests: the binary built from the Go module proxy by tools/vault/build.sh
// (cached under ~/.cache/conveyor/vault/<Version>/vault), on a loopback port,
// with an in-memory store, KV v2 mounted at secret/ and a known root token.
//
// It is test support: only tests import it. It must not import the engine,
// executor, task, server or store packages.
package vaulttest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/toolscript"
)

// Version names the pinned Vault build and its cache folder; it must equal
// VAULT_VERSION in tools/vault/build.sh.
const Version = "v1.21.4"

// Binary returns the path of the vault binary: $CONVEYOR_VAULT_BIN when set,
// else the cached build, building it with tools/vault/build.sh first when
// missing (long on a cold Go build cache). Build progress goes to progress
// (nil: discarded).
func Binary(ctx context.Context, progress io.Writer) (string, error) {
	if b := os.Getenv("CONVEYOR_VAULT_BIN"); b != "" {
		return b, nil
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("vault binary: locate cache folder: %w", err)
		}
		cache = filepath.Join(home, ".cache")
	}
	bin := filepath.Join(cache, "conveyor", "vault", Version, "vault")
	if fi, err := os.Stat(bin); err == nil && fi.Mode()&0o111 != 0 {
		return bin, nil
	}
	script, err := BuildScript()
	if err != nil {
		return "", fmt.Errorf("vault binary: %s missing and %w", bin, err)
	}
	if progress == nil {
		progress = io.Discard
	}
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Stdout = io.Discard
	cmd.Stderr = progress
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("vault binary: run %s: %w", script, err)
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("vault binary: %s still missing after %s", bin, script)
	}
	return bin, nil
}

// BuildScript finds tools/vault/build.sh from the working directory or this
// source file's checkout.
func BuildScript() (string, error) {
	s, err := toolscript.Find("vault")
	if err != nil {
		return "", fmt.Errorf("%w, or set CONVEYOR_VAULT_BIN", err)
	}
	return s, nil
}

// Server is a running development server.
type Server struct {
	// Addr is the server's URL, http://127.0.0.1:<port>.
	Addr string
	// Token is the root token.
	Token string

	cmd  *exec.Cmd
	done chan struct{}
	logs *lockedBuffer
}

// Start starts a development server and waits until it serves; it is
// stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := StartServer(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop vault: %v", err)
		}
		if t.Failed() {
			t.Logf("vault server log:\n%s", s.Logs())
		}
	})
	return s
}

// StartServer starts a development server with its home in dir (the dev
// server writes a token file there) and returns once it answers. The
// caller must call Stop. The server outlives ctx only until Stop.
func StartServer(ctx context.Context, dir string) (*Server, error) {
	bin, err := Binary(ctx, os.Stderr)
	if err != nil {
		return nil, err
	}
	tok := make([]byte, 16)
	rand.Read(tok)
	token := "root-" + hex.EncodeToString(tok)
	for try := 0; ; try++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s, err := start(bin, dir, port, token)
		if err == nil {
			return s, nil
		}
		if try == 2 || !errors.Is(err, errPortTaken) {
			return nil, err
		}
	}
}

var errPortTaken = errors.New("port taken")

func start(bin, dir string, port int, token string) (*Server, error) {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "server", "-dev", "-dev-root-token-id="+token, "-dev-listen-address="+addr, "-dev-no-store-token")
	cmd.Env = append(os.Environ(), "HOME="+dir, "VAULT_ADDR=http://"+addr, "VAULT_DISABLE_MLOCK=true", "VAULT_LOG_LEVEL=warn")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("vault server: %w", err)
	}
	logs := &lockedBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("vault server: start %s: %w", bin, err)
	}
	s := &Server{Addr: "http://" + addr, Token: token, cmd: cmd, done: make(chan struct{}), logs: logs}
	ready := make(chan struct{})
	go func() {
		// The dev server prints its banner once it has unsealed itself and
		// mounted secret/; the line names the address it serves.
		sc := bufio.NewScanner(out)
		signaled := false
		for sc.Scan() {
			line := sc.Text()
			logs.Write([]byte(line + "\n"))
			if !signaled && strings.Contains(line, "Development mode should NOT be used") {
				signaled = true
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	timer := time.NewTimer(2 * time.Minute)
	defer timer.Stop()
	select {
	case <-ready:
		return s, nil
	case <-s.done:
		l := s.Logs()
		if strings.Contains(l, "address already in use") {
			return nil, fmt.Errorf("vault server on %s: %w", addr, errPortTaken)
		}
		return nil, fmt.Errorf("vault server on %s exited before serving:\n%s", addr, l)
	case <-timer.C:
		_ = s.Stop()
		return nil, fmt.Errorf("vault server on %s did not serve within 2 minutes:\n%s", addr, s.Logs())
	}
}

// Stop ends the server.
func (s *Server) Stop() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	timer := time.NewTimer(20 * time.Second)
	defer timer.Stop()
	select {
	case <-s.done:
	case <-timer.C:
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	return nil
}

// Logs returns what the server printed.
func (s *Server) Logs() string { return s.logs.String() }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("vault server: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
