package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ApprovalState is where an approval is in its life.
type ApprovalState string

// The states of an approval. Every state but pending is final.
const (
	ApprovalPending  ApprovalState = "pending"
	ApprovalApproved ApprovalState = "approved"
	ApprovalRejected ApprovalState = "rejected"
	ApprovalTimedOut ApprovalState = "timedOut"
	ApprovalCanceled ApprovalState = "canceled"
)

// The kinds of approvals.
const (
	ApprovalKindEnvironment      = "environment"
	ApprovalKindManualValidation = "manualValidation"
)

// The decisions a user can record on an approval.
const (
	DecisionApprove = "approve"
	DecisionReject  = "reject"
)

// ApprovalPolicy says who may decide an approval and what happens when
// nobody does in time.
type ApprovalPolicy struct {
	// Approvers are user names or group names (of conveyor.yaml users);
	// empty means any user.
	Approvers              []string      `json:"approvers,omitempty"`
	MinApprovers           int           `json:"minApprovers,omitempty"`
	RequesterCannotApprove bool          `json:"requesterCannotApprove,omitempty"`
	Instructions           string        `json:"instructions,omitempty"`
	NotifyUsers            []string      `json:"notifyUsers,omitempty"`
	Timeout                time.Duration `json:"timeout,omitempty"`
	// OnTimeout is reject (the default) or resume.
	OnTimeout string `json:"onTimeout,omitempty"`
}

// Release is what an approval lets through: the image digests and the hash
// of the rendered manifests a run had produced when the approval was asked.
type Release struct {
	// Digests maps the name of the run output or variable that carried a
	// digest ("Build.Push.push.imageDigest") to its value.
	Digests       map[string]string `json:"digests,omitempty"`
	ManifestsHash string            `json:"manifestsHash,omitempty"`
}

// ApprovalDecision is one user's recorded decision.
type ApprovalDecision struct {
	User     string
	Decision string // DecisionApprove or DecisionReject
	Comment  string
	At       time.Time
	// Release is what the user approved (the approval's release at that time).
	Release Release
}

// Approval is a request for people to let a stage or job of a run go on.
type Approval struct {
	ID    string // assigned by CreateApproval
	RunID string
	// Gate is the record the approval holds: a stage ("Deploy") for the
	// checks of an environment, a job ("Deploy.Validate") for
	// ManualValidation.
	Gate        string
	Kind        string // ApprovalKindEnvironment or ApprovalKindManualValidation
	Environment string
	// Requester is who asked for the run (Build.RequestedFor).
	Requester string
	Policy    ApprovalPolicy
	Release   Release
	State     ApprovalState
	CreatedAt time.Time // set by CreateApproval when zero
	ExpiresAt time.Time // zero: never
	DecidedAt time.Time
	// Decisions in the order they were made (read only: UpdateApproval adds).
	Decisions []ApprovalDecision
}

// ApprovalFilter selects approvals for ListApprovals; zero fields match
// everything.
type ApprovalFilter struct {
	RunID string
	Gate  string
	State ApprovalState
}

// ApprovalChange is what an UpdateApproval callback adds besides the
// approval's new state: at most one decision and any audit entries, written
// in the same transaction.
type ApprovalChange struct {
	Decision *ApprovalDecision
	Audit    []AuditEntry
}

// ErrApprovalFinal is wrapped when a change is asked of an approval that is
// no longer pending.
var ErrApprovalFinal = errors.New("approval already decided")

const approvalColumns = `id, run_id, gate, kind, environment, requester, policy, release, state, created_at, expires_at, decided_at`

// CreateApproval assigns a.ID (and a.CreatedAt when zero) and stores a
// together with the audit entry ev (its RunID and Subject default to the
// approval's).
func (s *DB) CreateApproval(ctx context.Context, a *Approval, ev AuditEntry) error {
	if a.RunID == "" || a.Gate == "" {
		return fmt.Errorf("create approval: run and gate are required")
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = s.now().UTC()
	}
	if a.State == "" {
		a.State = ApprovalPending
	}
	id := "A" + s.ids.next(a.CreatedAt)
	policy, err := json.Marshal(a.Policy)
	if err != nil {
		return fmt.Errorf("create approval for %s of run %s: policy: %w", a.Gate, a.RunID, err)
	}
	release, err := json.Marshal(a.Release)
	if err != nil {
		return fmt.Errorf("create approval for %s of run %s: release: %w", a.Gate, a.RunID, err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO approvals (`+approvalColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
			id, a.RunID, a.Gate, a.Kind, a.Environment, a.Requester, string(policy), string(release), string(a.State),
			a.CreatedAt.UnixNano(), nanos(a.ExpiresAt), nanos(a.DecidedAt)); err != nil {
			return err
		}
		if ev.Action == "" {
			return nil
		}
		if ev.RunID == "" {
			ev.RunID = a.RunID
		}
		if ev.Subject == "" {
			ev.Subject = id
		}
		return s.appendAudit(ctx, tx, ev)
	})
	if err != nil {
		return fmt.Errorf("create approval for %s of run %s: %w", a.Gate, a.RunID, err)
	}
	a.ID = id
	return nil
}

// GetApproval returns the approval with its decisions; the error wraps
// ErrNotFound when there is none.
func (s *DB) GetApproval(ctx context.Context, id string) (Approval, error) {
	as, err := scanApprovals(ctx, s.db, `WHERE id = ?`, id)
	if err != nil {
		return Approval{}, fmt.Errorf("get approval %s: %w", id, err)
	}
	if len(as) == 0 {
		return Approval{}, fmt.Errorf("get approval %s: %w", id, ErrNotFound)
	}
	return as[0], nil
}

// ListApprovals returns the approvals matching f, oldest first.
func (s *DB) ListApprovals(ctx context.Context, f ApprovalFilter) ([]Approval, error) {
	var conds []string
	var args []any
	if f.RunID != "" {
		conds = append(conds, "run_id = ?")
		args = append(args, f.RunID)
	}
	if f.Gate != "" {
		conds = append(conds, "gate = ?")
		args = append(args, f.Gate)
	}
	if f.State != "" {
		conds = append(conds, "state = ?")
		args = append(args, string(f.State))
	}
	where := ""
	if len(conds) > 0 {
		where = "WHERE " + strings.Join(conds, " AND ")
	}
	as, err := scanApprovals(ctx, s.db, where+" ORDER BY id", args...)
	if err != nil {
		return nil, fmt.Errorf("list approvals: %w", err)
	}
	return as, nil
}

// UpdateApproval reads the approval, calls fn and writes back its State,
// ExpiresAt and DecidedAt with the decision and audit entries fn returns,
// in one transaction. fn's error aborts the update and is returned wrapped;
// like UpdateRun's, fn may be called again after a lost race.
func (s *DB) UpdateApproval(ctx context.Context, id string, fn func(*Approval) (ApprovalChange, error)) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		as, err := scanApprovals(ctx, tx, `WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if len(as) == 0 {
			return ErrNotFound
		}
		a := as[0]
		ch, err := fn(&a)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE approvals SET state = ?, expires_at = ?, decided_at = ? WHERE id = ?`,
			string(a.State), nanos(a.ExpiresAt), nanos(a.DecidedAt), id); err != nil {
			return err
		}
		if d := ch.Decision; d != nil {
			if d.At.IsZero() {
				d.At = s.now().UTC()
			}
			rel, err := json.Marshal(d.Release)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO approval_decisions (approval_id, seq, "user", decision, comment, release, at)
				VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM approval_decisions WHERE approval_id = ?), ?, ?, ?, ?, ?)`,
				id, id, d.User, d.Decision, d.Comment, string(rel), d.At.UnixNano()); err != nil {
				return err
			}
		}
		for _, ev := range ch.Audit {
			if ev.RunID == "" {
				ev.RunID = a.RunID
			}
			if ev.Subject == "" {
				ev.Subject = id
			}
			if err := s.appendAudit(ctx, tx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update approval %s: %w", id, err)
	}
	return nil
}

func scanApprovals(ctx context.Context, q queryer, where string, args ...any) ([]Approval, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+approvalColumns+` FROM approvals `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var as []Approval
	for rows.Next() {
		var a Approval
		var policy, release, state string
		var created int64
		var expires, decided sql.NullInt64
		if err := rows.Scan(&a.ID, &a.RunID, &a.Gate, &a.Kind, &a.Environment, &a.Requester, &policy, &release, &state,
			&created, &expires, &decided); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(policy), &a.Policy); err != nil {
			return nil, fmt.Errorf("approval %s: policy: %w", a.ID, err)
		}
		if err := json.Unmarshal([]byte(release), &a.Release); err != nil {
			return nil, fmt.Errorf("approval %s: release: %w", a.ID, err)
		}
		a.State = ApprovalState(state)
		a.CreatedAt = fromNanos(sql.NullInt64{Int64: created, Valid: true})
		a.ExpiresAt, a.DecidedAt = fromNanos(expires), fromNanos(decided)
		as = append(as, a)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	for i := range as {
		if as[i].Decisions, err = readDecisions(ctx, q, as[i].ID); err != nil {
			return nil, err
		}
	}
	return as, nil
}

func readDecisions(ctx context.Context, q queryer, id string) ([]ApprovalDecision, error) {
	rows, err := q.QueryContext(ctx, `SELECT "user", decision, comment, release, at FROM approval_decisions WHERE approval_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ds []ApprovalDecision
	for rows.Next() {
		var d ApprovalDecision
		var rel string
		var at int64
		if err := rows.Scan(&d.User, &d.Decision, &d.Comment, &rel, &at); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(rel), &d.Release); err != nil {
			return nil, fmt.Errorf("decision on approval %s: release: %w", id, err)
		}
		d.At = fromNanos(sql.NullInt64{Int64: at, Valid: true})
		ds = append(ds, d)
	}
	return ds, rows.Err()
}

// LockState is where a request for an environment's exclusive lock is.
type LockState string

// The states of a lock request.
const (
	LockWaiting  LockState = "waiting"
	LockHeld     LockState = "held"
	LockReleased LockState = "released"
	// LockCanceled: a newer run superseded this waiting request (runLatest).
	LockCanceled LockState = "canceled"
)

// The lock behaviors of an environment's exclusive lock.
const (
	LockSequential = "sequential"
	LockRunLatest  = "runLatest"
)

// LockRequest asks for the exclusive lock of an environment for one gate
// (stage) of a run.
type LockRequest struct {
	Environment string
	RunID       string
	Gate        string
	Behavior    string // LockSequential (default) or LockRunLatest
}

// Lock is the answer to a LockRequest.
type Lock struct {
	State LockState
	// HolderRun and HolderGate name who holds the lock when State is waiting.
	HolderRun, HolderGate string
	// Superseded are the runs whose waiting requests this request canceled
	// (runLatest).
	Superseded []string
}

// AcquireEnvLock records req (once per environment, run and gate) and grants
// the lock when no run still going holds it and no older one waits. Under runLatest
// a new request cancels every older waiting one of the environment.
func (s *DB) AcquireEnvLock(ctx context.Context, req LockRequest) (Lock, error) {
	if req.Behavior == "" {
		req.Behavior = LockSequential
	}
	var out Lock
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		out = Lock{}
		now := s.now().UTC().UnixNano()
		var seq int64
		var state string
		err := tx.QueryRowContext(ctx, `SELECT seq, state FROM env_locks WHERE environment = ? AND run_id = ? AND gate = ?`,
			req.Environment, req.RunID, req.Gate).Scan(&seq, &state)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if req.Behavior == LockRunLatest {
				rows, err := tx.QueryContext(ctx, `SELECT run_id FROM env_locks WHERE environment = ? AND state = ? ORDER BY seq`, req.Environment, string(LockWaiting))
				if err != nil {
					return err
				}
				for rows.Next() {
					var r string
					if err := rows.Scan(&r); err != nil {
						rows.Close()
						return err
					}
					out.Superseded = append(out.Superseded, r)
				}
				rows.Close()
				if _, err := tx.ExecContext(ctx, `UPDATE env_locks SET state = ?, changed_at = ? WHERE environment = ? AND state = ?`,
					string(LockCanceled), now, req.Environment, string(LockWaiting)); err != nil {
					return err
				}
			}
			if err := tx.QueryRowContext(ctx, `INSERT INTO env_locks (environment, run_id, gate, behavior, state, requested_at, changed_at)
				VALUES (?,?,?,?,?,?,?) RETURNING seq`,
				req.Environment, req.RunID, req.Gate, req.Behavior, string(LockWaiting), now, now).Scan(&seq); err != nil {
				return err
			}
			state = string(LockWaiting)
		case err != nil:
			return err
		}
		out.State = LockState(state)
		if out.State != LockWaiting {
			return nil
		}
		// Requests of runs that ended (a crashed run reconciled as
		// interrupted, a run deleted) hold nothing.
		err = tx.QueryRowContext(ctx, `SELECT run_id, gate FROM env_locks WHERE environment = ? AND (state = ? OR (state = ? AND seq < ?))
			AND run_id IN (SELECT id FROM runs WHERE state != ?) ORDER BY state = ? DESC, seq LIMIT 1`,
			req.Environment, string(LockHeld), string(LockWaiting), seq, string(StateCompleted), string(LockHeld)).Scan(&out.HolderRun, &out.HolderGate)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := tx.ExecContext(ctx, `UPDATE env_locks SET state = ?, changed_at = ? WHERE seq = ?`, string(LockHeld), now, seq); err != nil {
				return err
			}
			out.State = LockHeld
			return nil
		case err != nil:
			return err
		}
		return nil
	})
	if err != nil {
		return Lock{}, fmt.Errorf("lock environment %s for %s of run %s: %w", req.Environment, req.Gate, req.RunID, err)
	}
	return out, nil
}

// ReleaseEnvLock releases (or withdraws) the request of run's gate for the
// environment's lock; releasing a lock not held is a no-op.
func (s *DB) ReleaseEnvLock(ctx context.Context, environment, runID, gate string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE env_locks SET state = ?, changed_at = ? WHERE environment = ? AND run_id = ? AND gate = ? AND state IN (?, ?)`,
		string(LockReleased), s.now().UTC().UnixNano(), environment, runID, gate, string(LockHeld), string(LockWaiting))
	if err != nil {
		return fmt.Errorf("release lock of environment %s for %s of run %s: %w", environment, gate, runID, err)
	}
	return nil
}
