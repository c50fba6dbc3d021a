// Package demo runs Conveyor's whole reference flow on embedded defaults
// with the sample app examples/webapp: it brings up the local cluster,
// starts `conveyor server` with its embedded registries and vault, lays the
// app out as a git repository, opens a pull request (the PR pipeline runs),
// merges it (CI runs, then CD), waits at the production approval, approves,
// and reports what happened.
//
// The demo plays the forge's part: it sends the server the same signed
// webhooks a Gitea server would (pull_request opened, push), so the server
// path is the one a real forge drives. It drives the server through its
// public surface only (CLI, webhooks, REST API), like an outside user; it
// must not import the engine, the server's internals or the executor.
package demo
