package server

import (
	"strings"
	"testing"
)

func TestStartRejectsABadPublicURL(t *testing.T) {
	for _, u := range []string{"ftp://conveyor.example", "conveyor.example:8080", "http://"} {
		t.Run(u, func(t *testing.T) {
			_, err := Start(t.Context(), Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0", LocalAgents: -1, PublicURL: u})
			if err == nil || !strings.Contains(err.Error(), "public URL") || !strings.Contains(err.Error(), "http(s)://") {
				t.Errorf("Start with public URL %q: %v, want an error saying what to give", u, err)
			}
		})
	}
}
