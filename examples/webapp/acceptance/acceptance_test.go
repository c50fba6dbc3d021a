//go:build acceptance

// Package acceptance checks a deployed webapp over HTTP: APP_URL is its
// address, EXPECTED_COMMIT the commit being delivered.
package acceptance

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, path string) *http.Response {
	t.Helper()
	base := strings.TrimSuffix(os.Getenv("APP_URL"), "/")
	if base == "" {
		t.Fatal("APP_URL is not set")
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestHealthy(t *testing.T) {
	resp := get(t, "/healthz")
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz = %d", resp.StatusCode)
	}
}

func TestVersionIsTheCommitBeingDelivered(t *testing.T) {
	resp := get(t, "/version")
	defer resp.Body.Close()
	var v struct{ Version, Commit string }
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	if want := os.Getenv("EXPECTED_COMMIT"); v.Commit != want {
		t.Fatalf("/version commit = %q, want %q", v.Commit, want)
	}
}
