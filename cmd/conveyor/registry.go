package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"conveyor.dev/conveyor/internal/registry"
)

func newRegistryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Embedded OCI registry",
	}
	cmd.AddCommand(newRegistryServeCmd(), newRegistryGCCmd())
	return cmd
}

// registryFlags are the flags shared by the registry subcommands.
type registryFlags struct {
	data string
	name string
}

func (f *registryFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.data, "data", "", "data folder (default .conveyor/registry/<name>)")
	cmd.Flags().StringVar(&f.name, "name", "nonprod", "which registry: nonprod, or prod (immutable tags, no deletes)")
}

func (f *registryFlags) options(cmd *cobra.Command) (string, []registry.Option, error) {
	if f.name != "nonprod" && f.name != "prod" {
		return "", nil, usageError("--name: unknown registry %q (want nonprod or prod)", f.name)
	}
	dir := f.data
	if dir == "" {
		dir = filepath.Join(".conveyor", "registry", f.name)
	}
	logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	opts := []registry.Option{
		registry.WithName(f.name),
		registry.WithLogger(logger),
		registry.WithImmutableTags(f.name == "prod"),
	}
	return dir, opts, nil
}

func newRegistryServeCmd() *cobra.Command {
	var (
		f      registryFlags
		listen string
		token  string
		delete bool
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve one embedded OCI registry; prints the address it listens on",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, opts, err := f.options(cmd)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("delete") {
				delete = f.name != "prod"
			}
			opts = append(opts, registry.WithDeletes(delete))
			if token != "" {
				opts = append(opts, registry.WithToken(token))
			}
			reg, err := registry.New(dir, opts...)
			if err != nil {
				return usageError("%w", err)
			}
			if listen == "" {
				listen = "127.0.0.1:5001"
				if f.name == "prod" {
					listen = "127.0.0.1:5002"
				}
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return usageError("--listen %s: %w", listen, err)
			}
			return serveRegistry(cmd.Context(), cmd, reg, ln)
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&listen, "listen", "", "address to listen on (default 127.0.0.1:5001, prod 127.0.0.1:5002; port 0 picks a free one)")
	cmd.Flags().StringVar(&token, "token", "", "require this token (bearer, or as the basic-auth password); prefer CONVEYOR_TOKEN")
	cmd.Flags().BoolVar(&delete, "delete", true, "allow DELETE of manifests, tags and blobs (default true for nonprod, false for prod)")
	return cmd
}

// serveRegistry prints the listen address and serves until ctx ends (SIGINT,
// SIGTERM), then shuts down gracefully.
func serveRegistry(ctx context.Context, cmd *cobra.Command, reg http.Handler, ln net.Listener) error {
	srv := &http.Server{Handler: reg, ReadHeaderTimeout: 30 * time.Second}
	fmt.Fprintln(cmd.OutOrStdout(), ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("registry: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("registry: shut down: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("registry: %w", err)
	}
	return nil
}

func newRegistryGCCmd() *cobra.Command {
	var (
		f        registryFlags
		untagged bool
		grace    time.Duration
		output   string
	)
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove blobs (and, with --untagged, manifests) nothing refers to; run it while the registry is stopped or idle",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return usageError("--output: unknown format %q (want text or json)", output)
			}
			dir, opts, err := f.options(cmd)
			if err != nil {
				return err
			}
			if _, err := os.Stat(dir); err != nil {
				return usageError("--data %s: %w", dir, err)
			}
			opts = append(opts, registry.WithGCUntagged(untagged), registry.WithGCGracePeriod(grace))
			reg, err := registry.New(dir, opts...)
			if err != nil {
				return usageError("%w", err)
			}
			res, err := reg.GC(cmd.Context())
			if err != nil {
				return err
			}
			if output == "json" {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %d manifests, %d blobs (%d bytes), %d uploads\n",
				res.ManifestsDeleted, res.BlobsDeleted, res.BytesFreed, res.UploadsDeleted)
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&untagged, "untagged", false, "also delete manifests no tag reaches")
	cmd.Flags().DurationVar(&grace, "grace", time.Hour, "keep content younger than this")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func newPromoteCmd() *cobra.Command {
	var (
		requireSig bool
		tags       []string
		insecure   bool
		output     string
	)
	cmd := &cobra.Command{
		Use:   "promote SRC DST",
		Short: "Copy an image by digest with its referrers (signatures, SBOMs, attestations); prints the digest",
		Long: `Copy the image or index SRC (registry/repo:tag or registry/repo@digest) to the
repository DST (registry/repo, optionally :tag) by digest, with every referrer
found through the referrers API or cosign's tag scheme. Blobs the target has
are not sent; the target's digest is checked before tags are applied. Tags:
DST's tag and every --tag; with none, SRC's tag. Credentials come from the
docker config (docker login).`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return usageError("--output: unknown format %q (want text or json)", output)
			}
			opts := []registry.PromoteOption{
				registry.WithRequireSignature(requireSig),
				registry.WithInsecure(insecure),
				registry.WithProgress(cmd.ErrOrStderr()),
			}
			if len(tags) > 0 {
				opts = append(opts, registry.WithTags(tags...))
			}
			p, err := registry.Promote(cmd.Context(), args[0], args[1], opts...)
			if errors.Is(err, registry.ErrInvalidReference) {
				return &exitError{code: exitBadUser, err: err}
			}
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(p)
			}
			fmt.Fprintln(cmd.OutOrStdout(), p.Digest)
			return nil
		},
	}
	cmd.Flags().BoolVar(&requireSig, "require-signature", false, "refuse an image without a signature (presence only until the supply-chain checks land)")
	cmd.Flags().StringArrayVar(&tags, "tag", nil, "apply this tag at the target (repeatable)")
	cmd.Flags().BoolVar(&insecure, "insecure", false, "allow plain HTTP to registries outside loopback and private networks")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}
