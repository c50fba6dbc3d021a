package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestRunTracesToOTLP: with CONVEYOR_OTEL_ENDPOINT set, `conveyor run`
// exports its run's spans to that OTLP/HTTP receiver before it exits.
func TestRunTracesToOTLP(t *testing.T) {
	var mu sync.Mutex
	names := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var req collectortrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(b, &req) != nil {
			http.Error(w, "want an OTLP trace export", http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					names[s.GetName()]++
				}
			}
		}
		mu.Unlock()
	}))
	defer srv.Close()
	t.Setenv("CONVEYOR_OTEL_ENDPOINT", srv.URL)
	r := runYAML(t, "steps:\n- script: echo traced\n  name: hello\n")
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s", r.code, r.stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	if names["run app #1"] != 1 || names["job Job"] != 1 || names["step hello"] != 1 {
		t.Errorf("spans received: %v, want the run, its job and step hello", names)
	}
}
