// Package dispatch is the server's "remote" executor: StartJob queues a job
// as a lease in the store, and the job's steps are handed to whichever agent
// leases it (the built-in local agent in process, or `conveyor agent` over
// HTTP). A Broker implements both the engine's executor contract and the
// agent protocol (agent.Conn).
//
// Leases expire by an injected clock: a job whose agent stops heartbeating
// is granted once more to another agent, which replays the job's finished
// steps with their output discarded and runs the interrupted one again, so
// every step is recorded exactly once.
//
// It must not import the engine, cmd or the HTTP layer of internal/server.
package dispatch
