package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrLeaseLost is wrapped by the lease methods when the caller no longer
// holds the lease: it expired and was given to another agent, was finished,
// or the token is not the current one.
var ErrLeaseLost = errors.New("lease lost")

// LeaseState is where a job handed to agents is.
type LeaseState string

// The states of a lease.
const (
	// LeaseQueued waits for an agent.
	LeaseQueued LeaseState = "queued"
	// LeaseLeased is held by an agent until ExpiresAt unless renewed.
	LeaseLeased LeaseState = "leased"
	// LeaseDone ended: the job's workspace was released.
	LeaseDone LeaseState = "done"
	// LeaseFailed ended without an agent finishing it (expired too often,
	// or canceled).
	LeaseFailed LeaseState = "failed"
	// LeaseAbandoned was queued or leased when its server stopped.
	LeaseAbandoned LeaseState = "abandoned"
)

// Lease is one job handed to remote agents.
type Lease struct {
	ID      string // assigned by EnqueueLease
	RunID   string
	JobID   string
	Spec    []byte   // the job's spec as JSON, for the agent
	Demands []string // the pool's demands: "name" or "name -equals value"
	State   LeaseState
	Agent   string // the agent holding it (leased) or that held it last
	Token   string // the secret of the current grant; changes with each grant
	Attempt int    // how many times it was granted
	// Excluded are the agents that lost it: it is not granted to them again.
	Excluded  []string
	ExpiresAt time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

const leaseColumns = `id, run_id, job_id, spec, demands, state, agent, token, attempt, excluded, expires_at, created_at, updated_at`

// EnqueueLease assigns l.ID and stores l as queued.
func (s *DB) EnqueueLease(ctx context.Context, l *Lease) error {
	if l.RunID == "" || l.JobID == "" {
		return fmt.Errorf("enqueue job: run and job IDs are required")
	}
	now := s.now().UTC()
	l.ID = s.ids.next(now)
	l.State, l.CreatedAt, l.UpdatedAt = LeaseQueued, now, now
	spec := l.Spec
	if len(spec) == 0 {
		spec = []byte("{}")
	}
	demands, _ := json.Marshal(nonNilSlice(l.Demands))
	excluded, _ := json.Marshal(nonNilSlice(l.Excluded))
	if _, err := s.db.ExecContext(ctx, `INSERT INTO leases (`+leaseColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		l.ID, l.RunID, l.JobID, string(spec), string(demands), string(l.State), l.Agent, l.Token, l.Attempt, string(excluded),
		nanos(l.ExpiresAt), now.UnixNano(), now.UnixNano()); err != nil {
		return fmt.Errorf("enqueue job %s of run %s: %w", l.JobID, l.RunID, err)
	}
	return nil
}

func scanLeases(ctx context.Context, q queryer, where string, args ...any) ([]Lease, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+leaseColumns+` FROM leases `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Lease
	for rows.Next() {
		var l Lease
		var spec, demands, state, excluded string
		var expires sql.NullInt64
		var created, updated int64
		if err := rows.Scan(&l.ID, &l.RunID, &l.JobID, &spec, &demands, &state, &l.Agent, &l.Token, &l.Attempt, &excluded,
			&expires, &created, &updated); err != nil {
			return nil, err
		}
		l.Spec, l.State = []byte(spec), LeaseState(state)
		if err := json.Unmarshal([]byte(demands), &l.Demands); err != nil {
			return nil, fmt.Errorf("lease %s: demands: %w", l.ID, err)
		}
		if err := json.Unmarshal([]byte(excluded), &l.Excluded); err != nil {
			return nil, fmt.Errorf("lease %s: excluded agents: %w", l.ID, err)
		}
		if len(l.Demands) == 0 {
			l.Demands = nil
		}
		if len(l.Excluded) == 0 {
			l.Excluded = nil
		}
		l.ExpiresAt = fromNanos(expires)
		l.CreatedAt = fromNanos(sql.NullInt64{Int64: created, Valid: true})
		l.UpdatedAt = fromNanos(sql.NullInt64{Int64: updated, Valid: true})
		out = append(out, l)
	}
	return out, rows.Err()
}

// GetLease returns the lease; the error wraps ErrNotFound when there is none.
func (s *DB) GetLease(ctx context.Context, id string) (Lease, error) {
	ls, err := scanLeases(ctx, s.db, `WHERE id = ?`, id)
	if err != nil {
		return Lease{}, fmt.Errorf("get lease %s: %w", id, err)
	}
	if len(ls) == 0 {
		return Lease{}, fmt.Errorf("get lease %s: %w", id, ErrNotFound)
	}
	return ls[0], nil
}

// ListLeases returns the leases in any of states (every lease when none is
// given), oldest first.
func (s *DB) ListLeases(ctx context.Context, states ...LeaseState) ([]Lease, error) {
	where := ""
	var args []any
	if len(states) > 0 {
		where = `WHERE state IN (` + strings.TrimSuffix(strings.Repeat("?,", len(states)), ",") + `)`
		for _, st := range states {
			args = append(args, string(st))
		}
	}
	ls, err := scanLeases(ctx, s.db, where+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list leases: %w", err)
	}
	return ls, nil
}

// AcquireLease grants a queued lease to agent with a new token until
// expires and counts the attempt. The error wraps ErrLeaseLost when the
// lease is no longer queued (another agent got it first) or agent lost it
// before.
func (s *DB) AcquireLease(ctx context.Context, id, agent, token string, expires time.Time) (Lease, error) {
	l, err := s.acquireLease(ctx, id, agent, token, expires)
	if err != nil {
		return Lease{}, fmt.Errorf("acquire lease %s for agent %s: %w", id, agent, err)
	}
	return l, nil
}

// acquireLease needs no transaction: a lease is queued with a given attempt
// count once (each grant counts one more), and the agents it excludes
// change only with its attempts, so the conditional UPDATE grants the lease
// as read or matches no row, however many agents race for it.
func (s *DB) acquireLease(ctx context.Context, id, agent, token string, expires time.Time) (Lease, error) {
	ls, err := scanLeases(ctx, s.db, `WHERE id = ?`, id)
	if err != nil {
		return Lease{}, err
	}
	if len(ls) == 0 {
		return Lease{}, ErrNotFound
	}
	l := ls[0]
	if l.State != LeaseQueued || slices.Contains(l.Excluded, agent) {
		return Lease{}, ErrLeaseLost
	}
	now := s.now().UTC()
	res, err := s.db.ExecContext(ctx, `UPDATE leases SET state = ?, agent = ?, token = ?, attempt = ?, expires_at = ?, updated_at = ?
		WHERE id = ? AND state = ? AND attempt = ?`,
		string(LeaseLeased), agent, token, l.Attempt+1, nanos(expires), now.UnixNano(), id, string(LeaseQueued), l.Attempt)
	if err != nil {
		return Lease{}, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return Lease{}, cmp.Or(err, ErrLeaseLost)
	}
	l.State, l.Agent, l.Token, l.Attempt, l.ExpiresAt, l.UpdatedAt = LeaseLeased, agent, token, l.Attempt+1, expires, now
	return l, nil
}

// RenewLease moves the expiry of a lease the token holds to expires. The
// error wraps ErrLeaseLost when the token does not hold it.
func (s *DB) RenewLease(ctx context.Context, id, token string, expires time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE leases SET expires_at = ?, updated_at = ? WHERE id = ? AND token = ? AND state = ?`,
		nanos(expires), s.now().UTC().UnixNano(), id, token, string(LeaseLeased))
	if err != nil {
		return fmt.Errorf("renew lease %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("renew lease %s: %w", id, ErrLeaseLost)
	}
	return nil
}

// FinishLease ends a queued or leased lease with state (done or failed).
// With a token it must be the current holder's (the error wraps
// ErrLeaseLost otherwise); with an empty token the server ends it whoever
// holds it.
func (s *DB) FinishLease(ctx context.Context, id, token string, state LeaseState) error {
	if state != LeaseDone && state != LeaseFailed {
		return fmt.Errorf("finish lease %s: state %q: want done or failed", id, state)
	}
	q := `UPDATE leases SET state = ?, updated_at = ? WHERE id = ? AND state IN (?, ?)`
	args := []any{string(state), s.now().UTC().UnixNano(), id, string(LeaseQueued), string(LeaseLeased)}
	if token != "" {
		q += ` AND token = ?`
		args = append(args, token)
	}
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("finish lease %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("finish lease %s: %w", id, ErrLeaseLost)
	}
	return nil
}

// ExpireLeases takes back every leased lease whose expiry is not after now:
// one granted fewer than maxAttempts times is queued again, excluding the
// agent that lost it; the others fail. It returns the leases it changed, in
// their new state.
func (s *DB) ExpireLeases(ctx context.Context, now time.Time, maxAttempts int) ([]Lease, error) {
	var out []Lease
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		out = nil
		ls, err := scanLeases(ctx, tx, `WHERE state = ? AND expires_at <= ? ORDER BY created_at, id`, string(LeaseLeased), now.UnixNano())
		if err != nil {
			return err
		}
		for _, l := range ls {
			l.State = LeaseQueued
			if l.Attempt >= maxAttempts {
				l.State = LeaseFailed
			}
			if !slices.Contains(l.Excluded, l.Agent) {
				l.Excluded = append(l.Excluded, l.Agent)
			}
			l.Token, l.UpdatedAt = "", s.now().UTC()
			excluded, _ := json.Marshal(l.Excluded)
			if _, err := tx.ExecContext(ctx, `UPDATE leases SET state = ?, token = '', excluded = ?, updated_at = ? WHERE id = ?`,
				string(l.State), string(excluded), l.UpdatedAt.UnixNano(), l.ID); err != nil {
				return err
			}
			out = append(out, l)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("expire leases: %w", err)
	}
	return out, nil
}

// AbandonLeases marks every queued or leased lease abandoned (their server
// stopped; a resumed run enqueues its jobs again) and returns how many.
func (s *DB) AbandonLeases(ctx context.Context) (int, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE leases SET state = ?, token = '', updated_at = ? WHERE state IN (?, ?)`,
		string(LeaseAbandoned), s.now().UTC().UnixNano(), string(LeaseQueued), string(LeaseLeased))
	if err != nil {
		return 0, fmt.Errorf("abandon leases: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
