package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"conveyor.dev/conveyor/internal/agent"
	"conveyor.dev/conveyor/internal/executor/local"
)

func newAgentCmd() *cobra.Command {
	var (
		serverURL, token, backend, data, name, logLevel string
		caps                                            []string
	)
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a remote runner that leases jobs from a server",
		Long: `Lease jobs from a server (a long poll), run their steps with the local
backend, stream each step's output back and heartbeat the lease. A job whose
agent stops heartbeating goes to another agent once. Pool demands are matched
against Agent.Name, Agent.OS, Agent.OSArchitecture and each --capability.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if backend != "local" {
				return usageError("--backend %q: only local is available", backend)
			}
			if serverURL == "" {
				return usageError("--server: required: the server's URL, e.g. http://127.0.0.1:8080")
			}
			capabilities := map[string]string{}
			for _, c := range caps {
				k, v, _ := strings.Cut(c, "=")
				if k == "" {
					return usageError("--capability %q: want NAME or NAME=VALUE", c)
				}
				capabilities[k] = v
			}
			if data == "" {
				d, err := defaultUserData()
				if err != nil {
					return usageError("no --data and no home folder: %w", err)
				}
				data = d + "/agent"
			}
			if name == "" {
				name = agent.DefaultName()
			}
			conn, err := agent.NewHTTPConn(serverURL, token, nil)
			if err != nil {
				return usageError("%w", err)
			}
			ex, err := local.New(data)
			if err != nil {
				return err
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usageError("--log-level %q: want debug, info, warn or error", logLevel)
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			a, err := agent.New(conn, ex, name, agent.WithCapabilities(capabilities), agent.WithLogger(log))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "conveyor agent %s leasing jobs from %s\n", name, serverURL)
			return a.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&serverURL, "server", "", "the server's URL")
	f.StringVar(&token, "token", "", "API token of role agent (conveyor token create --role agent)")
	f.StringVar(&backend, "backend", "local", "executor backend: local")
	f.StringVar(&data, "data", "", "data folder for workspaces (default ~/.local/share/conveyor/agent)")
	f.StringVar(&name, "name", "", "the agent's unique name (default <host>-<pid>)")
	f.StringArrayVar(&caps, "capability", nil, "a capability offered to pool demands, NAME or NAME=VALUE (repeatable)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}
