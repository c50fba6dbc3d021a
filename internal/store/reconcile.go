package store

import (
	"context"
	"database/sql"
	"fmt"
)

// ReconcileOrphans marks every running or waiting run whose owner is not
// alive as completed/interrupted, with its running and waiting records, and
// closes its open logs. It returns how many runs it marked.
func (s *DB) ReconcileOrphans(ctx context.Context, alive func(owner string) bool) (int, error) {
	candidates, err := scanRuns(ctx, s.db, `WHERE state IN (?, ?)`, string(StateRunning), string(StateWaiting))
	if err != nil {
		return 0, fmt.Errorf("reconcile orphaned runs: %w", err)
	}
	marked := 0
	for _, r := range candidates {
		if alive(r.Owner) {
			continue
		}
		now := s.now().UTC()
		changed := false
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			changed = false
			// Re-check inside the transaction: the run may have finished meanwhile.
			res, err := tx.ExecContext(ctx, `UPDATE runs SET state = ?, result = ?, finished_at = ? WHERE id = ? AND owner = ? AND state IN (?, ?)`,
				string(StateCompleted), string(ResultInterrupted), now.UnixNano(), r.ID, r.Owner, string(StateRunning), string(StateWaiting))
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return err
			}
			changed = true
			if _, err := tx.ExecContext(ctx, `UPDATE records SET state = ?, result = ?, finished_at = ? WHERE run_id = ? AND state IN (?, ?)`,
				string(StateCompleted), string(ResultInterrupted), now.UnixNano(), r.ID, string(StateRunning), string(StateWaiting)); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `UPDATE logs SET closed = 1 WHERE run_id = ?`, r.ID)
			return err
		})
		if err != nil {
			return marked, fmt.Errorf("reconcile orphaned run %s of %s: %w", r.ID, r.Owner, err)
		}
		if changed {
			marked++
		}
	}
	return marked, nil
}
