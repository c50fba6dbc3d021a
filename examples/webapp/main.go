// Command webapp is Conveyor's sample service: a small HTTP server with
// health and version endpoints, delivered from pull request to production by
// the pipelines beside it (pr.yml, ci.yml, cd.yml).
package main

import (
	"context"
	"errors"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// version and commit are set at build time with -ldflags "-X main.commit=…".
var (
	version = "1.0.0"
	commit  = ""
)

func main() {
	addr := ":" + envOr("PORT", "8080")
	if len(os.Args) > 1 && os.Args[1] == "-health" {
		// The image's HEALTHCHECK: exit 0 when /healthz answers 200.
		os.Exit(checkHealth("http://127.0.0.1" + addr + "/healthz"))
	}
	srv := &http.Server{Addr: addr, Handler: newServer(buildInfo(), os.Getenv("ADMIN_TOKEN")), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("webapp %s (%s) listening on %s", version, buildInfo().Commit, addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func checkHealth(url string) int {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 1
	}
	return 0
}
