// Command pause is the sandbox ("pause") container of kubeenv's real node: it
// blocks until SIGTERM or SIGINT and exits 0. Built static, it is packed into
// a one-layer OCI image by internal/kubeenv.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
