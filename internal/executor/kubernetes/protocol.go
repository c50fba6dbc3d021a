package kubernetes

import (
	"time"

	"conveyor.dev/conveyor/internal/executor"
	"conveyor.dev/conveyor/internal/task"
)

// stepRequest is what RunStep sends the in-pod runner on stdin, one JSON
// value; closing stdin afterwards cancels the step.
type stepRequest struct {
	Dirs task.Dirs `json:"dirs"`
	executor.StepSpec
}

// Event kinds the runner writes to stdout, one JSON value each.
const (
	evLine    = "line"    // Text at Time
	evVar     = "var"     // Name = Value with Opts
	evSummary = "summary" // Text
	evResult  = "result"  // the step's end: Result
	evError   = "error"   // the step's infrastructure failure: Text
)

// event is one thing the step did; evResult or evError is the last.
type event struct {
	Kind   string          `json:"k"`
	Time   time.Time       `json:"t,omitzero"`
	Text   string          `json:"x,omitempty"`
	Name   string          `json:"n,omitempty"`
	Value  string          `json:"v,omitempty"`
	Opts   task.VarOptions `json:"o,omitzero"`
	Result task.Result     `json:"r,omitzero"`
}
