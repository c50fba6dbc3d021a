package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is wrapped by every error reporting a missing run, record or log.
var ErrNotFound = errors.New("not found")

// ErrSchemaTooNew is wrapped by Open when the database was migrated by a newer
// Conveyor than this one.
var ErrSchemaTooNew = errors.New("database schema is newer than this conveyor")

// State is where a run or timeline record is in its life (Azure-style).
type State string

// The states of a run or record.
const (
	StateQueued    State = "queued"
	StateRunning   State = "running"
	StateWaiting   State = "waiting"
	StateCompleted State = "completed"
)

// Result is the outcome of a completed run or record; empty until completed.
type Result string

// The results of a completed run or record.
const (
	ResultSucceeded           Result = "succeeded"
	ResultSucceededWithIssues Result = "succeededWithIssues"
	ResultFailed              Result = "failed"
	ResultCanceled            Result = "canceled"
	ResultSkipped             Result = "skipped"
	ResultInterrupted         Result = "interrupted"
)

// Event is what started a run.
type Event string

// The events that start runs.
const (
	EventPush     Event = "push"
	EventPR       Event = "pr"
	EventManual   Event = "manual"
	EventSchedule Event = "schedule"
	EventPipeline Event = "pipeline"
)

// Run is one execution of a pipeline.
type Run struct {
	ID         string // assigned by CreateRun; sorts by creation time
	Number     int64  // assigned by CreateRun; 1, 2, 3… per pipeline
	Pipeline   string
	File       string
	Repository string
	Commit     string
	Branch     string
	Event      Event
	Reason     string
	State      State
	Result     Result
	Params     map[string]string
	Variables  map[string]string // never secret values
	Plan       []byte            // the plan JSON
	Owner      string            // who executes it: "pid@host" (see LocalOwner)
	CreatedAt  time.Time         // set by CreateRun when zero
	StartedAt  time.Time
	FinishedAt time.Time
	Tags       []string // sorted, unique
}

// RunFilter selects runs for ListRuns; zero fields match everything.
type RunFilter struct {
	Pipeline string
	State    State
	Tag      string
	Limit    int // 0 means no limit
}

// RecordType is the kind of a timeline record.
type RecordType string

// The kinds of timeline records.
const (
	RecordStage RecordType = "stage"
	RecordJob   RecordType = "job"
	RecordPhase RecordType = "phase"
	RecordStep  RecordType = "step"
)

// IssueType is the severity of an issue.
type IssueType string

// The severities of issues.
const (
	IssueError   IssueType = "error"
	IssueWarning IssueType = "warning"
)

// Issue is an error or warning reported by a step (##vso[task.logissue]).
type Issue struct {
	Type    IssueType
	Message string
	File    string
	Line    int
}

// Record is one node of a run's timeline (stage, job, phase or step).
// A record is identified by (RunID, ID, Attempt): a retried job gets a new
// record with the next attempt, and the old one is kept.
type Record struct {
	RunID       string
	ID          string // stable path such as "Build", "Build.Job1", "Build.Job1.step3"
	ParentID    string // "" for top-level records
	Type        RecordType
	Name        string
	DisplayName string
	Order       int // position among its siblings
	Attempt     int // 1 for the first attempt
	State       State
	Result      Result
	StartedAt   time.Time
	FinishedAt  time.Time
	Outputs     map[string]string // non-secret output variables
	// SecretOutputs names the secret output variables; their values are never stored.
	SecretOutputs []string
	Issues        []Issue
	ErrorCount    int
	WarningCount  int
	LogLines      int64
}

// LogLine is one stored line of a step log.
type LogLine struct {
	N    int64 // 0-based position in the log
	Time time.Time
	Text string
}

// LogWriter appends lines to one log. It is not safe for concurrent use.
type LogWriter interface {
	// WriteLine appends one line (already masked by the caller); once it
	// returns, the line survives a crash of the process (not of the machine).
	// A line containing newlines is stored as several lines.
	WriteLine(ts time.Time, line string) error
	// Flush makes every written line durable on disk (fsync), so it also
	// survives a crash of the machine.
	Flush() error
	// Close marks the log finished and wakes its tailers; like WriteLine it
	// does not fsync (the durability of SQLite's synchronous=NORMAL). The
	// caller must call it.
	Close() error
}

// Store is the whole persistence contract, checked by storetest.Run against
// every implementation. Consumers declare the smaller interface they need.
type Store interface {
	// CreateRun assigns r.ID and r.Number (and r.CreatedAt when zero) and stores r.
	CreateRun(ctx context.Context, r *Run) error
	// GetRun returns the run; the error wraps ErrNotFound when there is none.
	GetRun(ctx context.Context, id string) (Run, error)
	// ListRuns returns the runs matching f, newest first.
	ListRuns(ctx context.Context, f RunFilter) ([]Run, error)
	// UpdateRun reads the run, calls fn and writes the result back, in one
	// transaction; fn's error aborts the update and is returned wrapped. ID,
	// Number and CreatedAt cannot be changed. fn may be called again, on the
	// run as it is then, when a concurrent writer won a race (PostgreSQL).
	UpdateRun(ctx context.Context, id string, fn func(*Run) error) error
	// AddRunTag adds tag to the run (a no-op when it is there already).
	AddRunTag(ctx context.Context, id, tag string) error

	// UpsertRecord creates or replaces the record (RunID, ID, Attempt).
	UpsertRecord(ctx context.Context, rec Record) error
	// ListRecords returns the run's records depth-first: parents before
	// their children, siblings by Order, then ID, then Attempt.
	ListRecords(ctx context.Context, runID string) ([]Record, error)

	// OpenLog opens the log of one record attempt for appending; reopening
	// an existing log appends to it.
	OpenLog(ctx context.Context, runID, recordID string, attempt int) (LogWriter, error)
	// ReadLog returns the lines stored so far from position from (0-based).
	ReadLog(ctx context.Context, runID, recordID string, attempt int, from int64) ([]LogLine, error)
	// TailLog calls fn for every line from position from, following the log
	// until its writer closes it, fn returns an error, or ctx ends.
	TailLog(ctx context.Context, runID, recordID string, attempt int, from int64, fn func(LogLine) error) error

	// ReconcileOrphans marks every running or waiting run whose owner is not
	// alive (alive(run.Owner) is false) as completed/interrupted, together
	// with its running and waiting records, and closes its open logs. It
	// returns how many runs it marked.
	ReconcileOrphans(ctx context.Context, alive func(owner string) bool) (int, error)

	// Close releases the store.
	Close() error
}
