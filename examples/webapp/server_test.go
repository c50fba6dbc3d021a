package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestGreeting(t *testing.T) {
	for in, want := range map[string]string{"": "hello, world", "  ada ": "hello, ada"} {
		if got := Greeting(in); got != want {
			t.Errorf("Greeting(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVersion(t *testing.T) {
	srv := httptest.NewServer(newServer(Info{Version: "1.2.3", Commit: "abc"}, ""))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/version")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got Info
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got != (Info{Version: "1.2.3", Commit: "abc"}) {
		t.Errorf("/version = %+v", got)
	}
}

func TestAdminDisabledWithoutToken(t *testing.T) {
	srv := httptest.NewServer(newServer(Info{}, ""))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/admin", nil)
	req.Header.Set("Authorization", "Bearer ")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/admin with no token configured = %d, want 401", resp.StatusCode)
	}
}
