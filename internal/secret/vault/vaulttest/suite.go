package vaulttest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/secret/vault"
)

// Setter writes a secret value into the store behind a provider, by the
// store's own means (not through the Provider interface, which only reads).
type Setter func(ctx context.Context, name string, value []byte) error

// RunProvider is the suite every vault.Provider must pass. The store behind
// p must start empty; set writes into it.
func RunProvider(t *testing.T, p vault.Provider, set Setter) {
	t.Helper()
	ctx := t.Context()
	values := map[string][]byte{
		"db-password":  []byte("pa55w0rd-with-dashes-and-$pecial&chars"),
		"multi-line":   []byte("-----BEGIN KEY-----\nline-one-of-key\nline-two-of-key\n-----END KEY-----\n"),
		"unicode.name": []byte("gr\u00fc\u00dfe \u2713 \"quoted\""),
	}
	t.Run("list empty", func(t *testing.T) {
		got, err := p.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Fatalf("List on an empty store = %v, want none", got)
		}
	})
	for name, v := range values {
		if err := set(ctx, name, v); err != nil {
			t.Fatalf("set %s: %v", name, err)
		}
	}
	t.Run("get", func(t *testing.T) {
		for name, want := range values {
			got, err := p.Get(ctx, name)
			if err != nil {
				t.Fatalf("Get(%s): %v", name, err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Get(%s) (-want +got):\n%s", name, diff)
			}
		}
	})
	t.Run("new version wins", func(t *testing.T) {
		if err := set(ctx, "db-password", []byte("rotated-value-2")); err != nil {
			t.Fatal(err)
		}
		got, err := p.Get(ctx, "db-password")
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "rotated-value-2" {
			t.Errorf("Get after rotation = %q, want the new value", got)
		}
	})
	t.Run("not found", func(t *testing.T) {
		_, err := p.Get(ctx, "no-such-secret")
		if !errors.Is(err, vault.ErrNotFound) {
			t.Fatalf("Get(no-such-secret) = %v, want ErrNotFound", err)
		}
	})
	t.Run("list", func(t *testing.T) {
		got, err := p.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, i := range got {
			names = append(names, i.Name)
			if i.Versions < 1 || i.Created.IsZero() {
				t.Errorf("List entry %+v: want at least one version and a creation time", i)
			}
		}
		if diff := cmp.Diff([]string{"db-password", "multi-line", "unicode.name"}, names); diff != "" {
			t.Errorf("List names (-want +got):\n%s", diff)
		}
	})
	t.Run("errors hold no value", func(t *testing.T) {
		_, err := p.Get(ctx, "db-password#no-such-field")
		if err == nil {
			return // a provider without fields treats '#' as part of the name
		}
		for _, v := range values {
			if len(v) > 0 && strings.Contains(err.Error(), string(v)) {
				t.Errorf("error %q reveals a secret value", err)
			}
		}
	})
}
