package store_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/store/storetest"
)

func TestTokens(t *testing.T) { eachDB(t, testTokens) }

func testTokens(t *testing.T, open storetest.Opener) {
	s := open(t)
	ctx := t.Context()
	a := store.Token{User: "ada", Role: "admin", Hash: "aa"}
	if err := s.CreateToken(ctx, &a); err != nil {
		t.Fatal(err)
	}
	b := store.Token{User: "bob", Role: "viewer", Hash: "bb"}
	if err := s.CreateToken(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateToken(ctx, &store.Token{User: "eve", Role: "admin", Hash: "aa"}); err == nil {
		t.Errorf("CreateToken with a hash in use: no error")
	}
	if err := s.CreateToken(ctx, &store.Token{User: "eve"}); err == nil {
		t.Errorf("CreateToken without role and hash: no error")
	}
	got, err := s.TokenByHash(ctx, "bb")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b, got, cmpopts.EquateApproxTime(0)); diff != "" {
		t.Errorf("TokenByHash (-want +got):\n%s", diff)
	}
	if _, err := s.TokenByHash(ctx, "cc"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TokenByHash of an unknown hash: error = %v, want ErrNotFound", err)
	}
	if err := s.RevokeToken(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenByHash(ctx, "bb"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TokenByHash of a revoked token: error = %v, want ErrNotFound", err)
	}
	if err := s.RevokeToken(ctx, b.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RevokeToken twice: error = %v, want ErrNotFound", err)
	}
	all, err := s.ListTokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var users []string
	for _, tk := range all {
		users = append(users, tk.User)
	}
	if diff := cmp.Diff([]string{"ada", "bob"}, users); diff != "" {
		t.Errorf("ListTokens users (-want +got):\n%s", diff)
	}
}
