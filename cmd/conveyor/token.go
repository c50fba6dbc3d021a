package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"conveyor.dev/conveyor/internal/server"
	"conveyor.dev/conveyor/internal/server/client"
)

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage API tokens"}
	var user, role, data, database, serverURL, token, output string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API token (printed once, stored hashed)",
		Long: `Create an API token for --user with --role (viewer, operator, approver, admin,
or agent for conveyor agent). The token is printed once; the server keeps only
its SHA-256. Without --server the token is written to the store of --data
directly (the server's data folder); with --server it is created through the
API with an admin token.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			r, err := server.ParseRole(role)
			if err != nil {
				return usageError("--role: %w", err)
			}
			if user == "" {
				return usageError("--user: required")
			}
			var secret string
			if serverURL != "" {
				c, err := client.New(serverURL, token)
				if err != nil {
					return usageError("%w", err)
				}
				if secret, err = c.CreateToken(ctx, user, string(r)); err != nil {
					return err
				}
			} else if secret, err = createLocalToken(ctx, data, database, user, r); err != nil {
				return err
			}
			if output == "json" {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]string{"user": user, "role": string(r), "token": secret})
			}
			fmt.Fprintln(cmd.OutOrStdout(), secret)
			return nil
		},
	}
	f := create.Flags()
	f.StringVar(&user, "user", "", "who the token is for")
	f.StringVar(&role, "role", "viewer", "viewer, operator, approver, admin or agent")
	f.StringVar(&data, "data", "", "the server's data folder (default ~/.local/share/conveyor)")
	f.StringVar(&database, "database", "", "the server's store, as its --database (default <data>/conveyor.db)")
	f.StringVar(&serverURL, "server", "", "create it through this server's API instead")
	f.StringVar(&token, "token", "", "admin token for --server")
	f.StringVar(&output, "output", "text", "output format: text or json")
	cmd.AddCommand(create)
	return cmd
}

// createLocalToken stores a token in the store of a data folder.
func createLocalToken(ctx context.Context, data, database, user string, role server.Role) (string, error) {
	if data == "" {
		d, err := defaultUserData()
		if err != nil {
			return "", usageError("no --data and no home folder: %w", err)
		}
		data = d
	}
	st, err := server.OpenDatabase(ctx, database, data)
	if err != nil {
		return "", err
	}
	defer st.Close()
	return server.CreateToken(ctx, st, user, role)
}
