// Package server is Conveyor's HTTP server: the REST API under /api/v1/
// (described by /api/v1/openapi.json), live logs as server-sent events,
// the webhook endpoints, /metrics and /healthz, token authentication with
// roles, and the agent protocol over HTTP. It starts runs on the engine
// (Runner, which implements trigger.Starter) and hands their jobs to agents
// through internal/server/dispatch.
//
// It must not import cmd. It declares the small interfaces it needs of the
// approval service and the trigger handlers, which are given to it.
package server
