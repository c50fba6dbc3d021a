// Package leak is the canary test of issue #8: a real `conveyor run` (the
// conveyor binary built from this checkout, the engine, the local executor)
// reads a random secret from each vault provider (embedded, a HashiCorp
// Vault dev server, Kubernetes Secrets on internal/kubeenv), prints it in
// many encodings, hands it to child processes and into an artifact, and the
// test then searches every file Conveyor wrote and every answer it printed
// for the secrets in any of those encodings.
//
// It holds only tests and drives Conveyor from outside, through its CLI: it
// must not import the engine, the executor or the store.
package leak
