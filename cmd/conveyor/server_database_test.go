package main

import (
	"net"
	"strings"
	"testing"
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
