package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// DeployStatus is how a deployment to an environment turned out.
type DeployStatus string

// The statuses of a deployment outcome.
const (
	// DeploySucceeded: the deployment job succeeded (and no watch found a
	// problem so far).
	DeploySucceeded DeployStatus = "succeeded"
	// DeployFailed: the deployment job failed (a failed rollout, rolled
	// back or not).
	DeployFailed DeployStatus = "failed"
	// DeployDegraded: the job succeeded but the post-deploy watch saw the
	// workload crash-loop or become unavailable.
	DeployDegraded DeployStatus = "degraded"
)

// DeployOutcome is one deployment job's result for an environment: the
// input of the DORA metrics. Unlike Deployment it is kept for failed
// deploys too.
type DeployOutcome struct {
	ID          int64 // assigned by RecordDeployOutcome
	Environment string
	Pipeline    string
	RunID       string
	Job         string // the deployment job's record ID
	Commit      string
	CommitAt    time.Time // when the change was committed (or first ran); zero when unknown
	Status      DeployStatus
	Reason      string // why failed or degraded, one line
	StartedAt   time.Time
	FinishedAt  time.Time
	WatchUntil  time.Time // zero: not watched
}

// DeployOutcomeFilter selects outcomes; zero fields match everything.
type DeployOutcomeFilter struct {
	Environment string
	Pipeline    string
	Since       time.Time // FinishedAt at or after
	Until       time.Time // FinishedAt before; zero: no bound
}

const outcomeColumns = `id, environment, pipeline, run_id, job, commit_sha, commit_at, status, reason, started_at, finished_at, watch_until`

// RecordDeployOutcome stores o, replacing the outcome of the same run and
// job (a retried deployment job), and assigns o.ID.
func (s *DB) RecordDeployOutcome(ctx context.Context, o *DeployOutcome) error {
	if o.Environment == "" || o.RunID == "" || o.Job == "" || o.Status == "" || o.FinishedAt.IsZero() {
		return fmt.Errorf("record deploy outcome %s/%s: environment, run, job, status and finish time are required", o.RunID, o.Job)
	}
	err := s.db.QueryRowContext(ctx, `INSERT INTO deploy_outcomes (environment, pipeline, run_id, job, commit_sha, commit_at, status, reason, started_at, finished_at, watch_until)
		VALUES (?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (run_id, job) DO UPDATE SET environment=excluded.environment, pipeline=excluded.pipeline,
		commit_sha=excluded.commit_sha, commit_at=excluded.commit_at, status=excluded.status, reason=excluded.reason,
		started_at=excluded.started_at, finished_at=excluded.finished_at, watch_until=excluded.watch_until
		RETURNING id`,
		o.Environment, o.Pipeline, o.RunID, o.Job, o.Commit, nanos(o.CommitAt), string(o.Status), o.Reason,
		nanos(o.StartedAt), o.FinishedAt.UnixNano(), nanos(o.WatchUntil)).Scan(&o.ID)
	if err != nil {
		return fmt.Errorf("record deploy outcome of run %s job %s in %s: %w", o.RunID, o.Job, o.Environment, err)
	}
	return nil
}

// SetDeployOutcomeStatus changes the status and reason of outcome id; the
// error wraps ErrNotFound when there is none.
func (s *DB) SetDeployOutcomeStatus(ctx context.Context, id int64, status DeployStatus, reason string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE deploy_outcomes SET status = ?, reason = ? WHERE id = ?`, string(status), reason, id)
	if err != nil {
		return fmt.Errorf("set deploy outcome %d to %s: %w", id, status, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("deploy outcome %d: %w", id, ErrNotFound)
	}
	return nil
}

// ListDeployOutcomes returns the outcomes matching f, oldest first (by
// FinishedAt, then ID).
func (s *DB) ListDeployOutcomes(ctx context.Context, f DeployOutcomeFilter) ([]DeployOutcome, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{{"environment", f.Environment}, {"pipeline", f.Pipeline}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	if !f.Since.IsZero() {
		where = append(where, "finished_at >= ?")
		args = append(args, f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		where = append(where, "finished_at < ?")
		args = append(args, f.Until.UnixNano())
	}
	q := `SELECT ` + outcomeColumns + ` FROM deploy_outcomes`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY finished_at, id`
	return s.scanOutcomes(ctx, "list deploy outcomes", q, args...)
}

// WatchedDeployOutcomes returns the succeeded outcomes whose watch lasts
// beyond now, oldest first: the watches a restarted server resumes.
func (s *DB) WatchedDeployOutcomes(ctx context.Context, now time.Time) ([]DeployOutcome, error) {
	return s.scanOutcomes(ctx, "list watched deploy outcomes", `SELECT `+outcomeColumns+` FROM deploy_outcomes
		WHERE status = ? AND watch_until > ? ORDER BY finished_at, id`, string(DeploySucceeded), now.UnixNano())
}

func (s *DB) scanOutcomes(ctx context.Context, what, q string, args ...any) ([]DeployOutcome, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []DeployOutcome
	for rows.Next() {
		var o DeployOutcome
		var status string
		var commitAt, started, watch sql.NullInt64
		var finished int64
		if err := rows.Scan(&o.ID, &o.Environment, &o.Pipeline, &o.RunID, &o.Job, &o.Commit, &commitAt, &status, &o.Reason,
			&started, &finished, &watch); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		o.Status = DeployStatus(status)
		o.CommitAt, o.StartedAt, o.WatchUntil = fromNanos(commitAt), fromNanos(started), fromNanos(watch)
		o.FinishedAt = time.Unix(0, finished).UTC()
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// FirstRunOfCommit returns when the first run of commit was created: when
// the change entered the system (the start of its lead time). The error
// wraps ErrNotFound when no run has that commit.
func (s *DB) FirstRunOfCommit(ctx context.Context, commit string) (time.Time, error) {
	var first sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MIN(created_at) FROM runs WHERE commit_sha = ?`, commit).Scan(&first); err != nil {
		return time.Time{}, fmt.Errorf("first run of commit %s: %w", commit, err)
	}
	if !first.Valid || commit == "" {
		return time.Time{}, fmt.Errorf("first run of commit %q: %w", commit, ErrNotFound)
	}
	return fromNanos(first), nil
}
