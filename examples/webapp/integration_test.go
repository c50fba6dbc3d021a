//go:build integration

package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

// TestAdminWithVaultToken runs in CI with ADMIN_TOKEN read from the vault
// (variable group webapp-integration).
func TestAdminWithVaultToken(t *testing.T) {
	token := os.Getenv("ADMIN_TOKEN")
	if token == "" {
		t.Fatal("ADMIN_TOKEN is not set: the CI pipeline maps it from the vault's admin-token secret")
	}
	srv := httptest.NewServer(newServer(buildInfo(), token))
	defer srv.Close()
	for _, tc := range []struct {
		auth string
		want int
	}{{"", http.StatusUnauthorized}, {"Bearer wrong", http.StatusUnauthorized}, {"Bearer " + token, http.StatusOK}} {
		req, _ := http.NewRequest("GET", srv.URL+"/admin", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("/admin with %d-byte credentials = %d, want %d", len(tc.auth), resp.StatusCode, tc.want)
		}
	}
}
