package main

import (
	"net"
	"strings"
	"testing"

	"conveyor.dev/conveyor/internal/server"
	"conveyor.dev/conveyor/internal/server/client"
	"conveyor.dev/conveyor/internal/store/pgtest"
)

// TestServerDatabaseErrorsHidePassword passes a PostgreSQL URL nobody
// serves by flag and by CONVEYOR_DATABASE: the server refuses to start
// with an error that says why and never shows the password.
func TestServerDatabaseErrorsHidePassword(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	const secret = "pa55-w0rd"
	tests := []struct {
		name, flag, env, want string
	}{
		{"flag", "postgres://conveyor:" + secret + "@" + addr + "/conveyor?sslmode=disable", "", "cannot reach PostgreSQL"},
		{"environment", "", "postgresql://conveyor:" + secret + "@" + addr + "/conveyor?sslmode=disable", "cannot reach PostgreSQL"},
		{"bad URL", "postgres://conveyor:" + secret + "@" + addr + ":x/conveyor", "", "bad URL"},
		{"unknown scheme", "mysql://conveyor:" + secret + "@" + addr + "/conveyor", "", "unknown database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CONVEYOR_DATABASE", tt.env)
			args := []string{"server", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--local-agents", "-1"}
			if tt.flag != "" {
				args = append(args, "--database", tt.flag)
			}
			out, code := execute(t, args...)
			if code == exitOK {
				t.Fatalf("server started on an unreachable database: %s", out)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("output %q does not say %q", out, tt.want)
			}
			if strings.Contains(out, secret) {
				t.Errorf("output shows the password: %s", out)
			}
		})
	}
}

// TestTokenCreateOnAPostgresServer makes a token with conveyor token create
// in the PostgreSQL database of a running server (CONVEYOR_DATABASE, as the
// server's --database): the server accepts it at once.
func TestTokenCreateOnAPostgresServer(t *testing.T) {
	db, data := pgtest.URL(t), t.TempDir()
	app, err := server.Start(t.Context(), server.Options{DataDir: data, Database: db, Listen: "127.0.0.1:0", LocalAgents: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	t.Setenv("CONVEYOR_DATABASE", db)
	out, code := cli(t, "token", "create", "--user", "ops", "--role", "operator", "--data", t.TempDir())
	if code != 0 {
		t.Fatalf("token create: exit %d: %s", code, out)
	}
	c, err := client.New(app.URL(), strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListRuns(t.Context(), client.RunFilter{}); err != nil {
		t.Errorf("the server refuses the token made in its database: %v", err)
	}
}
