package store_test

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/store/pgtest"
	"conveyor.dev/conveyor/internal/store/storetest"
)

func TestPostgresSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.NewPostgresStore(t) })
}

// TestLeaseGrantedToExactlyOneAgent has many agents race for every queued
// job: each job goes to exactly one, the others are told they lost it.
func TestLeaseGrantedToExactlyOneAgent(t *testing.T) { eachDB(t, testLeaseGrantedToExactlyOneAgent) }

func testLeaseGrantedToExactlyOneAgent(t *testing.T, open storetest.Opener) {
	s := open(t)
	ctx := t.Context()
	const jobs, agents = 10, 12
	var ids []string
	for i := range jobs {
		l := store.Lease{RunID: "R", JobID: fmt.Sprint("Build.Job", i)}
		if err := s.EnqueueLease(ctx, &l); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, l.ID)
	}
	var mu sync.Mutex
	won := map[string][]string{} // lease → agents granted it
	var wg sync.WaitGroup
	for a := range agents {
		agent := fmt.Sprint("agent-", a)
		wg.Go(func() {
			for _, id := range ids {
				l, err := s.AcquireLease(ctx, id, agent, "tok-"+agent, time.Now().Add(time.Minute))
				if errors.Is(err, store.ErrLeaseLost) {
					continue
				}
				if err != nil {
					t.Errorf("%s acquires %s: %v", agent, id, err)
					return
				}
				if l.Agent != agent || l.Attempt != 1 {
					t.Errorf("%s got lease %+v", agent, l)
				}
				mu.Lock()
				won[id] = append(won[id], agent)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		if len(won[id]) != 1 {
			t.Errorf("lease %s granted to %v, want exactly one agent", id, won[id])
		}
		l, err := s.GetLease(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(won[id]) == 1 && (l.State != store.LeaseLeased || l.Agent != won[id][0] || l.Attempt != 1) {
			t.Errorf("stored lease %s = %s by %s attempt %d, want leased by %s attempt 1", id, l.State, l.Agent, l.Attempt, won[id][0])
		}
	}
}

// TestUpdateRunLosesNoUpdate has many writers read-modify-write one run at
// once: every change survives.
func TestUpdateRunLosesNoUpdate(t *testing.T) { eachDB(t, testUpdateRunLosesNoUpdate) }

func testUpdateRunLosesNoUpdate(t *testing.T, open storetest.Opener) {
	s := open(t)
	ctx := t.Context()
	r := store.Run{Pipeline: "ci", State: store.StateRunning}
	if err := s.CreateRun(ctx, &r); err != nil {
		t.Fatal(err)
	}
	const writers = 16
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			err := s.UpdateRun(ctx, r.ID, func(x *store.Run) error {
				if x.Variables == nil {
					x.Variables = map[string]string{}
				}
				x.Variables[fmt.Sprint("w", w)] = "done"
				return nil
			})
			if err != nil {
				t.Errorf("writer %d: %v", w, err)
			}
		})
	}
	wg.Wait()
	got, err := s.GetRun(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Variables) != writers {
		t.Errorf("run has %d of %d writers' variables: %v", len(got.Variables), writers, got.Variables)
	}
}

// TestEnvLockHeldByOneRun has many runs ask for one environment's lock at
// once: exactly one holds it.
func TestEnvLockHeldByOneRun(t *testing.T) { eachDB(t, testEnvLockHeldByOneRun) }

func testEnvLockHeldByOneRun(t *testing.T, open storetest.Opener) {
	s := open(t)
	ctx := t.Context()
	const runs = 8
	var ids []string
	for range runs {
		ids = append(ids, newRun(t, s))
	}
	held := make(chan string, runs)
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			l, err := s.AcquireEnvLock(ctx, store.LockRequest{Environment: "prod", RunID: id, Gate: "Deploy"})
			if err != nil {
				t.Errorf("run %s: %v", id, err)
				return
			}
			if l.State == store.LockHeld {
				held <- id
			}
		})
	}
	wg.Wait()
	close(held)
	var holders []string
	for id := range held {
		holders = append(holders, id)
	}
	if len(holders) != 1 {
		t.Errorf("runs holding the lock: %v, want exactly one", holders)
	}
}

// TestAuditSeqFollowsCommitOrder has writers append audit entries at once
// while a reader pages with After: the reader sees every entry.
func TestAuditSeqFollowsCommitOrder(t *testing.T) { eachDB(t, testAuditSeqFollowsCommitOrder) }

func testAuditSeqFollowsCommitOrder(t *testing.T, open storetest.Opener) {
	s := open(t)
	ctx := t.Context()
	const writers, each = 8, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := s.AppendAudit(ctx, store.AuditEntry{Actor: fmt.Sprint("w", w), Action: "test", Detail: fmt.Sprint(i)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	seen := 0
	var after int64
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		es, err := s.ListAudit(ctx, store.AuditFilter{After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.Seq <= after {
				t.Fatalf("entry %d after %d", e.Seq, after)
			}
			after = e.Seq
			seen++
		}
	}
	if seen != writers*each {
		t.Errorf("a reader paging by Seq saw %d of %d entries", seen, writers*each)
	}
}

// TestPostgresReopen opens one database from several processes' worth of
// stores at once (the migrations run once, under a lock), and finds its
// runs again after closing all.
func TestPostgresReopen(t *testing.T) {
	url := pgtest.URL(t)
	logs := t.TempDir()
	var wg sync.WaitGroup
	stores := make([]*store.DB, 4)
	for i := range stores {
		wg.Go(func() {
			s, err := store.Open(t.Context(), url, store.WithLogDir(logs))
			if err != nil {
				t.Errorf("open %d: %v", i, err)
				return
			}
			stores[i] = s
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	r := store.Run{Pipeline: "ci", State: store.StateRunning, Owner: "1@elsewhere"}
	if err := stores[0].CreateRun(t.Context(), &r); err != nil {
		t.Fatal(err)
	}
	for _, s := range stores {
		if s.Dialect() != "postgres" {
			t.Errorf("dialect = %q, want postgres", s.Dialect())
		}
		s.Close()
	}
	s, err := store.Open(t.Context(), url, store.WithLogDir(logs))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.GetRun(t.Context(), r.ID)
	if err != nil || got.Number != 1 || got.Owner != "1@elsewhere" {
		t.Errorf("run after reopening = %+v, %v", got, err)
	}
}

func TestPostgresOpenErrorsHidePassword(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	const secret = "s3cr3t-pw"
	tests := []struct {
		name, dsn, want string
		opts            []store.Option
	}{
		{"unreachable", "postgres://conveyor:" + secret + "@" + closed + "/conveyor?sslmode=disable", "cannot reach PostgreSQL", nil},
		{"password parameter", "postgresql://" + closed + "/conveyor?sslmode=disable&password=" + secret, "cannot reach PostgreSQL", nil},
		{"bad port", "postgres://conveyor:" + secret + "@127.0.0.1:port/conveyor", "bad URL", nil},
		{"no log folder", "postgres://conveyor:" + secret + "@" + closed + "/conveyor", "log folder", []store.Option{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			if opts == nil {
				opts = []store.Option{store.WithLogDir(t.TempDir())}
			}
			s, err := store.Open(t.Context(), tt.dsn, opts...)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error shows the password: %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// TestTextThatIsNotUTF8 stores a run whose reason has Latin-1 bytes and a
// NUL: SQLite keeps the bytes, PostgreSQL (text must be UTF-8 without NUL)
// stores U+FFFD for the bad byte and drops the NUL; neither fails.
func TestTextThatIsNotUTF8(t *testing.T) {
	for _, tt := range []struct {
		name string
		open storetest.Opener
		want string
	}{
		{"sqlite", storetest.NewTestStore, "caf\xe9\x00 au lait"},
		{"postgres", storetest.NewPostgresStore, "caf\uFFFD au lait"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.open(t)
			r := store.Run{Pipeline: "ci", Reason: "caf\xe9\x00 au lait"}
			if err := s.CreateRun(t.Context(), &r); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetRun(t.Context(), r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Reason != tt.want {
				t.Errorf("reason = %q, want %q", got.Reason, tt.want)
			}
		})
	}
}
