package agent

import (
	"context"
	"errors"
	"time"

	"conveyor.dev/conveyor/internal/executor"
	"conveyor.dev/conveyor/internal/task"
)

// ErrLeaseLost is returned by Conn methods when the agent no longer holds
// the lease (it expired and went to another agent, or the job ended): the
// agent stops the job and drops what it has not reported.
var ErrLeaseLost = errors.New("lease lost")

// Conn is the agent's side of the protocol. Calls for one lease are made by
// one goroutine at a time, except Heartbeat, which may run alongside.
type Conn interface {
	// Lease waits (a long poll) for a job the agent can run; ok is false
	// when none came in the server's wait time, and the agent asks again.
	Lease(ctx context.Context, req LeaseRequest) (g Grant, ok bool, err error)
	// Started reports the workspace of a granted job.
	Started(ctx context.Context, t Ticket, dirs task.Dirs) error
	// Next waits for the job's next instruction: a step to run, close, or
	// none (ask again).
	Next(ctx context.Context, t Ticket) (Instruction, error)
	// Report sends a step's events in order; the last report of a step has
	// Done set and its result. Events already received are ignored by
	// sequence number, so a report may be sent again after an error.
	Report(ctx context.Context, t Ticket, r StepReport) (Reply, error)
	// Heartbeat renews the lease.
	Heartbeat(ctx context.Context, t Ticket) (Reply, error)
	// Closed says the job's workspace is released; errText is non-empty
	// when the workspace could not be set up or released.
	Closed(ctx context.Context, t Ticket, errText string) error
}

// LeaseRequest asks for a job.
type LeaseRequest struct {
	// Agent is the agent's unique name.
	Agent string `json:"agent"`
	// Capabilities are what the agent offers to pool demands, by name
	// (matched case-insensitively).
	Capabilities map[string]string `json:"capabilities,omitempty"`
}

// Ticket names a lease grant: the lease and the secret of this grant.
type Ticket struct {
	Lease string `json:"lease"`
	Token string `json:"token"`
}

// Grant is a job given to an agent.
type Grant struct {
	Ticket
	Spec executor.JobSpec `json:"spec"`
	// TTL is how long the lease lasts without a heartbeat or report.
	TTL time.Duration `json:"ttl"`
	// Attempt counts the grants of this job: 2 when another agent lost it.
	Attempt int `json:"attempt"`
}

// Instruction kinds.
const (
	InstructionNone  = "none"  // nothing yet: ask again
	InstructionStep  = "step"  // run Step
	InstructionClose = "close" // release the workspace; the job is over
)

// Instruction is what the server wants next of a job.
type Instruction struct {
	Kind string `json:"kind"`
	// N numbers the instruction within the grant; reports name it.
	N    int      `json:"n,omitempty"`
	Step StepSpec `json:"step,omitempty"`
}

// StepSpec is an executor.Step without its callbacks.
type StepSpec = executor.StepSpec

// Event kinds.
const (
	EventLine    = "line"    // Text at Time
	EventVar     = "var"     // Name = Value with Opts
	EventSummary = "summary" // Text
)

// Event is one thing a step did, numbered from 0 within its instruction.
type Event struct {
	Seq   int64           `json:"seq"`
	Kind  string          `json:"kind"`
	Time  time.Time       `json:"time,omitzero"`
	Text  string          `json:"text,omitempty"`
	Name  string          `json:"name,omitempty"`
	Value string          `json:"value,omitempty"`
	Opts  task.VarOptions `json:"opts,omitzero"`
}

// StepReport carries the events of instruction N and, when Done, its end.
type StepReport struct {
	N      int     `json:"n"`
	Events []Event `json:"events,omitempty"`
	Done   bool    `json:"done,omitempty"`
	// Result is the step's result when Done and Error is empty.
	Result task.Result `json:"result,omitzero"`
	// Error is the infrastructure failure of the step, if any.
	Error string `json:"error,omitempty"`
}

// Reply tells the agent what the server wants of a running step.
type Reply struct {
	// Cancel asks the agent to cancel the running step (its run was
	// canceled or timed out).
	Cancel bool `json:"cancel,omitempty"`
}
