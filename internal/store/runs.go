package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

const runColumns = `id, number, pipeline, file, repository, commit_sha, branch, event, reason, state, result,
	params, variables, plan, owner, created_at, started_at, finished_at`

// CreateRun assigns r.ID and r.Number (and r.CreatedAt when zero) and stores r.
func (s *DB) CreateRun(ctx context.Context, r *Run) error {
	if r.Pipeline == "" {
		return fmt.Errorf("create run: empty pipeline name")
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = s.now().UTC()
	}
	id := s.ids.next(r.CreatedAt)
	var number int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(number), 0) + 1 FROM runs WHERE pipeline = ?`, r.Pipeline).Scan(&number); err != nil {
			return err
		}
		params, variables, err := marshalMaps(r.Params, r.Variables)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO runs (`+runColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			id, number, r.Pipeline, r.File, r.Repository, r.Commit, r.Branch, string(r.Event), r.Reason, string(r.State), string(r.Result),
			params, variables, r.Plan, r.Owner, r.CreatedAt.UnixNano(), nanos(r.StartedAt), nanos(r.FinishedAt)); err != nil {
			return err
		}
		return writeTags(ctx, tx, id, r.Tags)
	})
	if err != nil {
		return fmt.Errorf("create run of pipeline %s: %w", r.Pipeline, err)
	}
	r.ID, r.Number = id, number
	r.Tags = normTags(r.Tags)
	return nil
}

func marshalMaps(params, variables map[string]string) (string, string, error) {
	p, err := json.Marshal(nonNil(params))
	if err != nil {
		return "", "", err
	}
	v, err := json.Marshal(nonNil(variables))
	if err != nil {
		return "", "", err
	}
	return string(p), string(v), nil
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// normTags sorts and deduplicates tags, dropping empty ones; nil when none.
func normTags(tags []string) []string {
	var out []string
	for _, t := range tags {
		if t != "" {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func writeTags(ctx context.Context, tx *sql.Tx, id string, tags []string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM run_tags WHERE run_id = ?`, id); err != nil {
		return err
	}
	for _, t := range normTags(tags) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO run_tags (run_id, tag) VALUES (?, ?)`, id, t); err != nil {
			return err
		}
	}
	return nil
}

// queryer is what *sql.DB and *sql.Tx share.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func scanRuns(ctx context.Context, q queryer, where string, args ...any) ([]Run, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+runColumns+` FROM runs `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var runs []Run
	for rows.Next() {
		var r Run
		var event, state, result, params, variables string
		var created int64
		var started, finished sql.NullInt64
		if err := rows.Scan(&r.ID, &r.Number, &r.Pipeline, &r.File, &r.Repository, &r.Commit, &r.Branch, &event, &r.Reason,
			&state, &result, &params, &variables, &r.Plan, &r.Owner, &created, &started, &finished); err != nil {
			return nil, err
		}
		r.Event, r.State, r.Result = Event(event), State(state), Result(result)
		if err := json.Unmarshal([]byte(params), &r.Params); err != nil {
			return nil, fmt.Errorf("run %s: params: %w", r.ID, err)
		}
		if err := json.Unmarshal([]byte(variables), &r.Variables); err != nil {
			return nil, fmt.Errorf("run %s: variables: %w", r.ID, err)
		}
		if len(r.Params) == 0 {
			r.Params = nil
		}
		if len(r.Variables) == 0 {
			r.Variables = nil
		}
		if len(r.Plan) == 0 {
			r.Plan = nil
		}
		r.CreatedAt = fromNanos(sql.NullInt64{Int64: created, Valid: true})
		r.StartedAt, r.FinishedAt = fromNanos(started), fromNanos(finished)
		runs = append(runs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	for i := range runs {
		if runs[i].Tags, err = readTags(ctx, q, runs[i].ID); err != nil {
			return nil, err
		}
	}
	return runs, nil
}

func readTags(ctx context.Context, q queryer, id string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT tag FROM run_tags WHERE run_id = ? ORDER BY tag`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var tags []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		tags = append(tags, t)
	}
	return tags, rows.Err()
}

// GetRun returns the run; the error wraps ErrNotFound when there is none.
func (s *DB) GetRun(ctx context.Context, id string) (Run, error) {
	runs, err := scanRuns(ctx, s.db, `WHERE id = ?`, id)
	if err != nil {
		return Run{}, fmt.Errorf("get run %s: %w", id, err)
	}
	if len(runs) == 0 {
		return Run{}, fmt.Errorf("get run %s: %w", id, ErrNotFound)
	}
	return runs[0], nil
}

// ListRuns returns the runs matching f, newest first.
func (s *DB) ListRuns(ctx context.Context, f RunFilter) ([]Run, error) {
	var conds []string
	var args []any
	if f.Pipeline != "" {
		conds = append(conds, "pipeline = ?")
		args = append(args, f.Pipeline)
	}
	if f.State != "" {
		conds = append(conds, "state = ?")
		args = append(args, string(f.State))
	}
	if f.Tag != "" {
		conds = append(conds, "id IN (SELECT run_id FROM run_tags WHERE tag = ?)")
		args = append(args, f.Tag)
	}
	where := ""
	if len(conds) > 0 {
		where = "WHERE " + strings.Join(conds, " AND ")
	}
	where += " ORDER BY id DESC"
	if f.Limit > 0 {
		where += " LIMIT ?"
		args = append(args, f.Limit)
	}
	runs, err := scanRuns(ctx, s.db, where, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return runs, nil
}

// UpdateRun reads the run, calls fn and writes the result back in one transaction.
func (s *DB) UpdateRun(ctx context.Context, id string, fn func(*Run) error) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		runs, err := scanRuns(ctx, tx, `WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if len(runs) == 0 {
			return ErrNotFound
		}
		r := runs[0]
		if err := fn(&r); err != nil {
			return err
		}
		r.ID, r.Number, r.CreatedAt = runs[0].ID, runs[0].Number, runs[0].CreatedAt
		params, variables, err := marshalMaps(r.Params, r.Variables)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET pipeline=?, file=?, repository=?, commit_sha=?, branch=?, event=?, reason=?,
			state=?, result=?, params=?, variables=?, plan=?, owner=?, started_at=?, finished_at=? WHERE id=?`,
			r.Pipeline, r.File, r.Repository, r.Commit, r.Branch, string(r.Event), r.Reason, string(r.State), string(r.Result),
			params, variables, r.Plan, r.Owner, nanos(r.StartedAt), nanos(r.FinishedAt), id); err != nil {
			return err
		}
		if !slices.Equal(normTags(r.Tags), runs[0].Tags) {
			return writeTags(ctx, tx, id, r.Tags)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update run %s: %w", id, err)
	}
	return nil
}

// AddRunTag adds tag to the run (a no-op when it is there already).
func (s *DB) AddRunTag(ctx context.Context, id, tag string) error {
	if tag == "" {
		return fmt.Errorf("tag run %s: empty tag", id)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM runs WHERE id = ?`, id).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO run_tags (run_id, tag) VALUES (?, ?) ON CONFLICT DO NOTHING`, id, tag)
		return err
	})
	if err != nil {
		return fmt.Errorf("tag run %s with %q: %w", id, tag, err)
	}
	return nil
}
