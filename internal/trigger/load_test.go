package trigger

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/store/storetest"
)

// loadFixture is the webhook receiver backed by the SQLite store, served
// over loopback HTTP, with a repository of 21 commits on main whose
// mirror and plans are warm, as on a running server.
type loadFixture struct {
	*fixture
	commits []string
	srv     *httptest.Server
	client  *http.Client
}

func newLoadFixture(tb testing.TB) *loadFixture {
	tb.Helper()
	st, err := store.Open(tb.Context(), filepath.Join(tb.TempDir(), "conveyor.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return newLoadFixtureOn(tb, st)
}

// newLoadFixtureOn is newLoadFixture with the delivery ids kept in st.
func newLoadFixtureOn(tb testing.TB, st Deliveries) *loadFixture {
	tb.Helper()
	f := newFixture(tb)
	f.webhooks = NewWebhooks(f.d, st)
	commits := []string{f.repo.head()}
	for i := range 20 {
		commits = append(commits, f.repo.commit(fmt.Sprint("c", i), map[string]string{"src/app.go": fmt.Sprintf("package app // %d\n", i)}))
	}
	for _, c := range commits[1:] {
		if _, err := f.d.git.Sync(tb.Context(), f.repo.dir, c); err != nil {
			tb.Fatal(err)
		}
	}
	srv := httptest.NewServer(f.webhooks)
	tb.Cleanup(srv.Close)
	client := srv.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 8
	return &loadFixture{fixture: f, commits: commits, srv: srv, client: client}
}

// loadResult is what one load round measured.
type loadResult struct {
	deliveries int
	elapsed    time.Duration
	latencies  []time.Duration // of each delivery's HTTP round trip
}

// round sends good signed deliveries (pushes to main spread over the three
// providers and 20 commits, ids prefixed by id), replays of every fifth,
// then bad deliveries with wrong signatures, with 8 senders; it fails tb
// unless every signed delivery started exactly one run and nothing else
// started any.
func (lf *loadFixture) round(tb testing.TB, id string, good, bad int) loadResult {
	tb.Helper()
	type job struct {
		d      delivery
		status int
	}
	var jobs []job
	for i := range good {
		provider := Providers[i%len(Providers)]
		c := 1 + i%20
		d := pushDelivery(provider, fmt.Sprint(id, "good-", i), lf.repo.dir, "refs/heads/main", lf.commits[c-1], lf.commits[c], []string{"src/app.go"})
		jobs = append(jobs, job{d.sign(testSecret), http.StatusAccepted})
	}
	for i := range good / 5 { // replays come after their originals
		jobs = append(jobs, job{jobs[i*5].d, http.StatusOK})
	}
	for i := range bad {
		provider := Providers[i%len(Providers)]
		d := pushDelivery(provider, fmt.Sprint(id, "bad-", i), lf.repo.dir, "refs/heads/main", lf.commits[0], lf.commits[1], []string{"src/app.go"})
		jobs = append(jobs, job{d.sign("not-the-secret"), http.StatusUnauthorized})
	}

	latencies := make([]time.Duration, len(jobs))
	work := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				j := jobs[i]
				req, _ := http.NewRequest(http.MethodPost, lf.srv.URL+"/webhooks/"+j.d.provider, bytes.NewReader(j.d.body))
				req.Header = j.d.header.Clone()
				t0 := time.Now()
				resp, err := lf.client.Do(req)
				latencies[i] = time.Since(t0)
				if err != nil {
					tb.Error(err)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != j.status {
					tb.Errorf("delivery %d (%s): status %d, want %d: %s", i, j.d.provider, resp.StatusCode, j.status, body)
				}
			}
		}()
	}
	for i := range jobs {
		work <- i
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)

	reqs := lf.rec.take()
	count := map[string]int{}
	for _, r := range reqs {
		count[r.DeliveryID]++
	}
	for i := range good {
		if n := count[fmt.Sprint(id, "good-", i)]; n != 1 {
			tb.Errorf("delivery %sgood-%d started %d runs, want 1", id, i, n)
		}
	}
	if len(reqs) != good {
		tb.Errorf("%d runs started, want %d", len(reqs), good)
	}
	return loadResult{deliveries: len(jobs), elapsed: elapsed, latencies: latencies}
}

// TestWebhookLoad sends 500 signed deliveries, 100 replays of them and 50
// deliveries with bad signatures over real HTTP on loopback to webhooks
// backed by the SQLite store: every signed delivery starts exactly one
// run, no replay and no bad delivery starts any. BenchmarkWebhookLoad
// measures how fast.
func TestWebhookLoad(t *testing.T) {
	lf := newLoadFixture(t)
	res := lf.round(t, "", 500, 50)
	t.Logf("%d deliveries in %v", res.deliveries, res.elapsed.Round(time.Millisecond))
}

// TestWebhookLoadOnPostgres is TestWebhookLoad with the delivery ids in
// PostgreSQL: replays racing their originals still start no second run.
func TestWebhookLoadOnPostgres(t *testing.T) {
	lf := newLoadFixtureOn(t, storetest.NewPostgresStore(t))
	res := lf.round(t, "", 500, 50)
	t.Logf("%d deliveries in %v", res.deliveries, res.elapsed.Round(time.Millisecond))
}
