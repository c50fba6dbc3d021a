package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
)

// UpsertRecord creates or replaces the record (RunID, ID, Attempt).
func (s *DB) UpsertRecord(ctx context.Context, rec Record) error {
	if rec.RunID == "" || rec.ID == "" {
		return fmt.Errorf("upsert record %q of run %q: run and record IDs are required", rec.ID, rec.RunID)
	}
	outputs, err := json.Marshal(nonNil(rec.Outputs))
	if err != nil {
		return fmt.Errorf("upsert record %s of run %s: outputs: %w", rec.ID, rec.RunID, err)
	}
	secretOutputs, err := json.Marshal(nonNilSlice(rec.SecretOutputs))
	if err != nil {
		return fmt.Errorf("upsert record %s of run %s: secret outputs: %w", rec.ID, rec.RunID, err)
	}
	issues := rec.Issues
	if issues == nil {
		issues = []Issue{}
	}
	issuesJSON, err := json.Marshal(issues)
	if err != nil {
		return fmt.Errorf("upsert record %s of run %s: issues: %w", rec.ID, rec.RunID, err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO records (run_id, id, attempt, parent_id, type, name, display_name, sort_order,
		state, result, started_at, finished_at, outputs, secret_outputs, issues, error_count, warning_count, log_lines)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (run_id, id, attempt) DO UPDATE SET parent_id=excluded.parent_id, type=excluded.type, name=excluded.name,
		display_name=excluded.display_name, sort_order=excluded.sort_order, state=excluded.state, result=excluded.result,
		started_at=excluded.started_at, finished_at=excluded.finished_at, outputs=excluded.outputs,
		secret_outputs=excluded.secret_outputs, issues=excluded.issues, error_count=excluded.error_count,
		warning_count=excluded.warning_count, log_lines=excluded.log_lines`,
		rec.RunID, rec.ID, rec.Attempt, rec.ParentID, string(rec.Type), rec.Name, rec.DisplayName, rec.Order,
		string(rec.State), string(rec.Result), nanos(rec.StartedAt), nanos(rec.FinishedAt), string(outputs),
		string(secretOutputs), string(issuesJSON), rec.ErrorCount, rec.WarningCount, rec.LogLines)
	if err != nil {
		return fmt.Errorf("upsert record %s of run %s: %w", rec.ID, rec.RunID, err)
	}
	return nil
}

func nonNilSlice(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ListRecords returns the run's records depth-first: parents before their
// children, siblings by Order, then ID, then Attempt.
func (s *DB) ListRecords(ctx context.Context, runID string) ([]Record, error) {
	recs, err := scanRecords(ctx, s.db, `WHERE run_id = ?`, runID)
	if err != nil {
		return nil, fmt.Errorf("list records of run %s: %w", runID, err)
	}
	return treeOrder(recs), nil
}

func scanRecords(ctx context.Context, q queryer, where string, args ...any) ([]Record, error) {
	rows, err := q.QueryContext(ctx, `SELECT run_id, id, attempt, parent_id, type, name, display_name, sort_order,
		state, result, started_at, finished_at, outputs, secret_outputs, issues, error_count, warning_count, log_lines
		FROM records `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var recs []Record
	for rows.Next() {
		var r Record
		var typ, state, result, outputs, secretOutputs, issues string
		var started, finished sql.NullInt64
		if err := rows.Scan(&r.RunID, &r.ID, &r.Attempt, &r.ParentID, &typ, &r.Name, &r.DisplayName, &r.Order,
			&state, &result, &started, &finished, &outputs, &secretOutputs, &issues, &r.ErrorCount, &r.WarningCount, &r.LogLines); err != nil {
			return nil, err
		}
		r.Type, r.State, r.Result = RecordType(typ), State(state), Result(result)
		r.StartedAt, r.FinishedAt = fromNanos(started), fromNanos(finished)
		if err := json.Unmarshal([]byte(outputs), &r.Outputs); err != nil {
			return nil, fmt.Errorf("record %s: outputs: %w", r.ID, err)
		}
		if err := json.Unmarshal([]byte(secretOutputs), &r.SecretOutputs); err != nil {
			return nil, fmt.Errorf("record %s: secret outputs: %w", r.ID, err)
		}
		if err := json.Unmarshal([]byte(issues), &r.Issues); err != nil {
			return nil, fmt.Errorf("record %s: issues: %w", r.ID, err)
		}
		if len(r.Outputs) == 0 {
			r.Outputs = nil
		}
		if len(r.SecretOutputs) == 0 {
			r.SecretOutputs = nil
		}
		if len(r.Issues) == 0 {
			r.Issues = nil
		}
		recs = append(recs, r)
	}
	return recs, rows.Err()
}

// treeOrder orders records depth-first from the roots; records whose parent
// is missing count as roots.
func treeOrder(recs []Record) []Record {
	ids := map[string]bool{}
	for _, r := range recs {
		ids[r.ID] = true
	}
	children := map[string][]int{}
	var roots []int
	for i, r := range recs {
		if r.ParentID == "" || !ids[r.ParentID] || r.ParentID == r.ID {
			roots = append(roots, i)
		} else {
			children[r.ParentID] = append(children[r.ParentID], i)
		}
	}
	less := func(a, b int) int {
		ra, rb := recs[a], recs[b]
		return cmp.Or(cmp.Compare(ra.Order, rb.Order), cmp.Compare(ra.ID, rb.ID), cmp.Compare(ra.Attempt, rb.Attempt))
	}
	out := make([]Record, 0, len(recs))
	visited := map[string]bool{}
	var walk func(idx []int)
	walk = func(idx []int) {
		slices.SortFunc(idx, less)
		for _, i := range idx {
			out = append(out, recs[i])
			id := recs[i].ID
			if visited[id] { // children already listed under an earlier attempt
				continue
			}
			visited[id] = true
			walk(children[id])
		}
	}
	walk(roots)
	if len(out) < len(recs) { // a parent cycle: list the rest at the end
		seen := map[[2]any]bool{}
		for _, r := range out {
			seen[[2]any{r.ID, r.Attempt}] = true
		}
		for _, r := range recs {
			if !seen[[2]any{r.ID, r.Attempt}] {
				out = append(out, r)
			}
		}
	}
	return out
}
