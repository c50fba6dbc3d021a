package trigger

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/store"
)

// TestWebhookLoad sends 500 signed deliveries (pushes to main spread over
// the three providers and 20 commits), their replays and 50 deliveries
// with bad signatures, over real HTTP on loopback with 8 senders, to
// webhooks backed by the SQLite store: every signed delivery starts
// exactly one run, no replay and no bad delivery starts any, and all of it
// takes less than 10 s.
func TestWebhookLoad(t *testing.T) {
	f := newFixture(t)
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "conveyor.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f.webhooks = NewWebhooks(f.d, st)

	commits := []string{f.repo.head()}
	for i := range 20 {
		commits = append(commits, f.repo.commit(fmt.Sprint("c", i), map[string]string{"src/app.go": fmt.Sprintf("package app // %d\n", i)}))
	}
	const good, bad = 500, 50
	type job struct {
		d      delivery
		status int
		id     string
	}
	var jobs []job
	for i := range good {
		provider := Providers[i%len(Providers)]
		c := 1 + i%20
		d := pushDelivery(provider, fmt.Sprint("good-", i), f.repo.dir, "refs/heads/main", commits[c-1], commits[c], []string{"src/app.go"})
		jobs = append(jobs, job{d.sign(testSecret), http.StatusAccepted, fmt.Sprint("good-", i)})
	}
	for i := range good / 5 { // replays of every fifth delivery
		jobs = append(jobs, job{jobs[i*5].d, http.StatusOK, ""})
	}
	for i := range bad {
		provider := Providers[i%len(Providers)]
		d := pushDelivery(provider, fmt.Sprint("bad-", i), f.repo.dir, "refs/heads/main", commits[0], commits[1], []string{"src/app.go"})
		jobs = append(jobs, job{d.sign("not-the-secret"), http.StatusUnauthorized, ""})
	}
	// Warm the mirror and the plan cache as a running server would be.
	for _, c := range commits[1:] {
		if _, err := f.d.git.Sync(t.Context(), f.repo.dir, c); err != nil {
			t.Fatal(err)
		}
	}

	srv := httptest.NewServer(f.webhooks)
	defer srv.Close()
	client := srv.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 8

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
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/"+j.d.provider, bytes.NewReader(j.d.body))
				req.Header = j.d.header.Clone()
				t0 := time.Now()
				resp, err := client.Do(req)
				latencies[i] = time.Since(t0)
				if err != nil {
					t.Error(err)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != j.status {
					t.Errorf("delivery %d (%s): status %d, want %d: %s", i, j.d.provider, resp.StatusCode, j.status, body)
				}
			}
		}()
	}
	// Originals first, then replays and bad ones interleaved with nothing
	// left to chance: replays must come after their original.
	for i := range jobs {
		work <- i
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)

	reqs := f.rec.take()
	count := map[string]int{}
	for _, r := range reqs {
		count[r.DeliveryID]++
	}
	for i := range good {
		if n := count[fmt.Sprint("good-", i)]; n != 1 {
			t.Errorf("delivery good-%d started %d runs, want 1", i, n)
		}
	}
	if len(reqs) != good {
		t.Errorf("%d runs started, want %d", len(reqs), good)
	}
	slices.Sort(latencies)
	p := func(q float64) time.Duration { return latencies[int(q*float64(len(latencies)-1))] }
	t.Logf("%d deliveries (%d signed, %d replays, %d bad) in %v: %.0f deliveries/s; handler latency p50 %v, p99 %v, max %v",
		len(jobs), good, good/5, bad, elapsed.Round(time.Millisecond), float64(len(jobs))/elapsed.Seconds(), p(0.50), p(0.99), latencies[len(latencies)-1])
	if elapsed > 10*time.Second {
		t.Errorf("took %v, want under 10 s", elapsed)
	}
}
