// Package agent is the remote runner of a Conveyor server: an Agent leases
// jobs from the server (a long poll), runs their steps one at a time with an
// executor backend (executor/local), streams each step's output back in
// numbered events and heartbeats its lease.
//
// It also defines the protocol both ends speak: the Conn interface and its
// messages. The server implements Conn in process (its built-in agent) and
// over HTTP (HTTPConn, for `conveyor agent`).
//
// It must not import the engine, the store or the server.
package agent
