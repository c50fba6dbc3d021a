// Package pgtest gives tests a real PostgreSQL: the initdb and postgres of
// Debian's postgresql package (PATH, else /usr/lib/postgresql/*/bin), one
// cluster per test binary in a temporary folder, listening on a random
// loopback port, run as the postgres user (else nobody) when the tests run
// as root, since PostgreSQL refuses root, with fsync and synchronous_commit
// off (tests need no durability against a crash of the machine). Each test
// gets a fresh database.
// With $CONVEYOR_TEST_POSTGRES set to the URL of a superuser on a running
// server, databases are made there instead.
//
// A package using it calls Main from TestMain, which stops the cluster. Its
// tests skip when PostgreSQL is not installed, except in CI (CI=true), where
// they fail.
//
// It is test support: only tests import it. It must not import the store or
// anything above it in the flow.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/lib/pq" // the "postgres" database/sql driver
)

var (
	mainCalled atomic.Bool
	once       sync.Once
	shared     *cluster
	startErr   error
	dbSeq      atomic.Int64
)

// Main runs the package's tests, then stops its cluster if one was started.
// Call it as os.Exit(pgtest.Main(m)) from TestMain.
func Main(m *testing.M) int {
	mainCalled.Store(true)
	code := m.Run()
	if shared != nil {
		shared.stop()
	}
	return code
}

// URL creates an empty database for the test and returns its URL
// (postgres://…?sslmode=disable); the database is dropped when the test
// ends. It skips the test when PostgreSQL is not installed, or fails it in
// CI.
func URL(t testing.TB) string {
	t.Helper()
	if !mainCalled.Load() {
		t.Fatal("pgtest: the package's TestMain must call os.Exit(pgtest.Main(m)), which stops the cluster")
	}
	once.Do(func() { shared, startErr = start() })
	if startErr != nil {
		if errors.Is(startErr, errNotInstalled) && os.Getenv("CI") != "true" {
			t.Skipf("PostgreSQL tests need the Debian postgresql package (apt-get install postgresql): %v", startErr)
		}
		t.Fatalf("start PostgreSQL: %v", startErr)
	}
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := shared.admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := shared.admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u := *shared.url
	u.Path = "/" + name
	return u.String()
}

var errNotInstalled = errors.New("initdb not found")

// cluster is a running PostgreSQL server (or an external one).
type cluster struct {
	url   *url.URL // of the superuser's default database
	admin *sql.DB
	dir   string // removed at stop; "" for an external server
	cmd   *exec.Cmd
	done  chan struct{}
	log   string
}

// binDir finds the folder of initdb and postgres.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(real), nil
		}
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("%w on PATH or in /usr/lib/postgresql/*/bin", errNotInstalled)
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func start() (*cluster, error) {
	if ext := os.Getenv("CONVEYOR_TEST_POSTGRES"); ext != "" {
		u, err := url.Parse(ext)
		if err != nil {
			return nil, fmt.Errorf("$CONVEYOR_TEST_POSTGRES: %v", err)
		}
		c := &cluster{url: u}
		return c, c.connect()
	}
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	sweep()
	dir, err := os.MkdirTemp("", "conveyor-pgtest-")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cred, err := credential(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	for try := 0; ; try++ {
		c, err := run(bin, dir, data, cred)
		if err == nil {
			return c, nil
		}
		if try == 2 || !strings.Contains(err.Error(), "could not bind") {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

// credential returns who runs PostgreSQL: nil (this user) unless root,
// else the postgres user (or nobody), who is given dir.
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var u *user.User
	var err error
	for _, name := range []string{"postgres", "nobody"} {
		if u, err = user.Lookup(name); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("running as root and no postgres or nobody user to run PostgreSQL as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// run starts postgres on a free loopback port and waits until it accepts
// connections.
func run(bin, dir, data string, cred *syscall.Credential) (*cluster, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	logFile := filepath.Join(dir, "postgres.log")
	logf, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	if cred != nil {
		os.Chown(logFile, int(cred.Uid), int(cred.Gid))
	}
	// synchronous_commit=off: a commit is safe from a crash of the process
	// but not of the machine, as with the SQLite store's synchronous=NORMAL;
	// fsync=off spares the disk work of CREATE DATABASE and checkpoints.
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+dir,
		"-c", "synchronous_commit=off", "-c", "fsync=off", "-c", "shared_buffers=32MB", "-c", "max_connections=300")
	cmd.Stdout, cmd.Stderr = logf, logf
	c := &cluster{dir: dir, cmd: cmd, done: make(chan struct{}), log: logFile,
		url: &url.URL{Scheme: "postgres", User: url.User("postgres"), Host: "127.0.0.1:" + strconv.Itoa(port), Path: "/postgres", RawQuery: "sslmode=disable"}}
	// Pdeathsig ends postgres with the test binary; it fires when the
	// thread that started it ends, so that thread is kept for good.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			started <- err
			runtime.UnlockOSThread()
			return
		}
		started <- nil
		cmd.Wait()
		close(c.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		err := c.connect()
		if err == nil {
			return c, nil
		}
		select {
		case <-c.done:
			b, _ := os.ReadFile(logFile)
			return nil, fmt.Errorf("postgres exited before accepting connections:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			c.stop()
			b, _ := os.ReadFile(logFile)
			return nil, fmt.Errorf("postgres did not accept connections within a minute: %v\n%s", err, b)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
}

func (c *cluster) connect() error {
	db, err := sql.Open("postgres", c.url.String())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return err
	}
	c.admin = db
	return nil
}

// stop ends postgres (fast shutdown) and removes its folder.
func (c *cluster) stop() {
	if c.admin != nil {
		c.admin.Close()
	}
	if c.cmd == nil {
		return
	}
	syscall.Kill(c.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
	}
	os.RemoveAll(c.dir)
}

// sweep removes the clusters of test binaries that died without stopping
// theirs (Pdeathsig killed postgres; the folder stayed).
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "conveyor-pgtest-*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner"))
		if err != nil {
			if fi, err := os.Stat(d); err == nil && time.Since(fi.ModTime()) > 10*time.Minute {
				os.RemoveAll(d)
			}
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || syscall.Kill(pid, 0) == syscall.ESRCH {
			os.RemoveAll(d)
		}
	}
}
