package observe_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"conveyor.dev/conveyor/internal/engine"
	"conveyor.dev/conveyor/internal/observe"
	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/store/storetest"
)

// otlpReceiver is an OTLP/HTTP trace receiver: it decodes the protobuf
// export requests the exporter posts to /v1/traces.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
	raw   bytes.Buffer
	paths []string
}

func (rc *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want a protobuf export request", http.StatusBadRequest)
		return
	}
	var req collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.paths = append(rc.paths, r.URL.Path)
	rc.raw.Write(b)
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			rc.spans = append(rc.spans, ss.GetSpans()...)
		}
	}
	rc.mu.Unlock()
	resp, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(resp)
}

func attr(s *tracepb.Span, key string) string {
	for _, kv := range s.GetAttributes() {
		if kv.GetKey() == key {
			switch v := kv.GetValue().GetValue().(type) {
			case *commonpb.AnyValue_StringValue:
				return v.StringValue
			case *commonpb.AnyValue_IntValue:
				return strconv.FormatInt(v.IntValue, 10)
			}
		}
	}
	return ""
}

// TestTracesOverOTLP runs a pipeline on the real engine with the Tracer
// exporting to a real OTLP/HTTP receiver and checks the span tree run →
// stage → job → step, its attributes and results.
func TestTracesOverOTLP(t *testing.T) {
	rc := &otlpReceiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	endpoint, fromEnv := observe.TraceEndpoint("", func(k string) string {
		return map[string]string{"CONVEYOR_OTEL_ENDPOINT": srv.URL}[k]
	})
	if endpoint != srv.URL || fromEnv {
		t.Fatalf("TraceEndpoint = %q, %v", endpoint, fromEnv)
	}
	tp, err := observe.NewOTLPTracerProvider(t.Context(), endpoint)
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.NewTestStore(t)
	eng := newEngine(t, st, observe.NewTracer(tp))
	repo, commit := newRepo(t)
	out, err := eng.Run(t.Context(), compile(t, cdPipeline, map[string]string{"prodFails": "true"}),
		engine.Input{Pipeline: "cd", Repository: repo, Commit: commit, Branch: "main", Event: store.EventPush})
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Shutdown(t.Context()); err != nil { // flushes the batch
		t.Fatal(err)
	}

	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.paths) == 0 || rc.paths[0] != "/v1/traces" {
		t.Fatalf("export requests to %v, want /v1/traces", rc.paths)
	}
	byID := map[string]*tracepb.Span{}
	var root *tracepb.Span
	for _, s := range rc.spans {
		byID[string(s.GetSpanId())] = s
		if len(s.GetParentSpanId()) == 0 {
			if root != nil {
				t.Fatalf("two root spans: %s and %s", root.GetName(), s.GetName())
			}
			root = s
		}
	}
	if root == nil {
		t.Fatalf("no root span among %d", len(rc.spans))
	}
	if root.GetName() != "run cd #1" || attr(root, "cicd.pipeline.name") != "cd" || attr(root, "vcs.ref.head.revision") != commit ||
		attr(root, "cicd.pipeline.run.id") != out.RunID || attr(root, "cicd.pipeline.result") != "failed" ||
		root.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("root span %s: attributes %v, status %v", root.GetName(), root.GetAttributes(), root.GetStatus())
	}
	// Each span's path from the root, with the result of its record.
	var paths []string
	for _, s := range rc.spans {
		if s == root {
			continue
		}
		if string(s.GetTraceId()) != string(root.GetTraceId()) {
			t.Errorf("span %s is in another trace", s.GetName())
		}
		if s.GetStartTimeUnixNano() > s.GetEndTimeUnixNano() || s.GetStartTimeUnixNano() < root.GetStartTimeUnixNano() || s.GetEndTimeUnixNano() > root.GetEndTimeUnixNano() {
			t.Errorf("span %s [%d, %d] is not inside the run [%d, %d]", s.GetName(), s.GetStartTimeUnixNano(), s.GetEndTimeUnixNano(), root.GetStartTimeUnixNano(), root.GetEndTimeUnixNano())
		}
		path := []string{s.GetName()}
		for p := byID[string(s.GetParentSpanId())]; p != nil && p != root; p = byID[string(p.GetParentSpanId())] {
			path = append([]string{p.GetName()}, path...)
		}
		if s.GetName() == "stage Build" || s.GetName() == "stage Production" || s.GetName() == "job Web" {
			path = append(path, "="+attr(s, "cicd.pipeline.task.run.result"))
		}
		paths = append(paths, strings.Join(path, " > "))
	}
	sort.Strings(paths)
	for _, want := range []string{
		"stage Build > =succeeded",
		"stage Build > job Build",
		"stage Production > =failed",
		"stage Production > job Web > =failed",
		"stage Staging > job Web > =succeeded",
	} {
		if !contains(paths, want) {
			t.Errorf("no span %q among:\n%s", want, strings.Join(paths, "\n"))
		}
	}
	steps := 0
	for _, p := range paths {
		if strings.HasPrefix(p, "stage Build > job Build > step ") {
			steps++
		}
	}
	if steps < 2 { // checkout and the script
		t.Errorf("the Build job has %d step spans, want its checkout and script:\n%s", steps, strings.Join(paths, "\n"))
	}
	if bytes.Contains(rc.raw.Bytes(), []byte("deploy to production")) {
		t.Error("a step's script text reached the traces")
	}
	if attr(root, "conveyor.run.number") != "1" {
		t.Errorf("root span's run number %q, want 1", attr(root, "conveyor.run.number"))
	}
	t.Logf("spans:\n%s", strings.Join(paths, "\n"))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestTraceEndpoint(t *testing.T) {
	for _, tt := range []struct {
		name, configured string
		env              map[string]string
		want             string
		fromEnv          bool
	}{
		{"none", "", nil, "", false},
		{"conveyor.yaml first", "http://a:4318", map[string]string{"CONVEYOR_OTEL_ENDPOINT": "http://b:4318"}, "http://a:4318", false},
		{"CONVEYOR_OTEL_ENDPOINT", "", map[string]string{"CONVEYOR_OTEL_ENDPOINT": "http://b:4318", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, "http://b:4318", false},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, "", true},
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, "", true},
	} {
		got, fromEnv := observe.TraceEndpoint(tt.configured, func(k string) string { return tt.env[k] })
		if got != tt.want || fromEnv != tt.fromEnv {
			t.Errorf("%s: TraceEndpoint = %q, %v; want %q, %v", tt.name, got, fromEnv, tt.want, tt.fromEnv)
		}
	}
	if _, err := observe.NewOTLPTracerProvider(t.Context(), "collector:4318"); err == nil || !strings.Contains(err.Error(), "want an http(s) URL") {
		t.Errorf("an endpoint without a scheme: %v", err)
	}
}
