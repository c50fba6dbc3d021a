// Command pause is the sandbox ("pause") container of kubeenv's real node: it
// blocks until SIGTERM or SIGINT and exits 0. Built static, it is packed into
// a one-layer OCI image by internal/kubeenv.
//
// With -listen ADDR it also answers every HTTP request on ADDR with
// "pause ok", which makes it a workload for tests of the real node (its
// image is on the real node already, no registry needed).
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	listen := flag.String("listen", "", "serve HTTP on this address too")
	flag.Parse()
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	if *listen != "" {
		go func() {
			err := http.ListenAndServe(*listen, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				fmt.Fprintln(w, "pause ok")
			}))
			log.Fatal(err)
		}()
	}
	<-c
}
