// Package server is Conveyor's HTTP server: the REST API under /api/v1/
// (described by /api/v1/openapi.json), live logs as server-sent events,
// the webhook endpoints, /metrics and /healthz, token authentication with
// roles, the web UI under /ui/, and the agent protocol over HTTP. It
// starts runs on the engine (Runner, which implements trigger.Starter) and
// hands their jobs to agents through internal/server/dispatch.
//
// The web UI (ui*.go, templates and CSS embedded from ui/) is server-side
// html/template pages over the same store and services as the API, with
// the same roles: people sign in with an API token, the server keeps the
// session (the token's hash) and the browser an HttpOnly, SameSite=Strict
// session cookie; every form carries a CSRF token. It works without
// JavaScript; ui/static/log.js follows a running step's log over the
// API's stream.
//
// It must not import cmd. It declares the small interfaces it needs of the
// approval service and the trigger handlers, which are given to it.
package server
