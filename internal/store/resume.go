package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// SaveRunInput stores what started a run (the engine's encoded input), so
// the run can be resumed by another process; saving again replaces it.
func (s *DB) SaveRunInput(ctx context.Context, runID string, input []byte) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO run_inputs (run_id, input) VALUES (?, ?)
		ON CONFLICT (run_id) DO UPDATE SET input = excluded.input`, runID, string(input)); err != nil {
		return fmt.Errorf("save input of run %s: %w", runID, err)
	}
	return nil
}

// RunInput returns what SaveRunInput stored; the error wraps ErrNotFound
// when nothing was.
func (s *DB) RunInput(ctx context.Context, runID string) ([]byte, error) {
	var in string
	err := s.db.QueryRowContext(ctx, `SELECT input FROM run_inputs WHERE run_id = ?`, runID).Scan(&in)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("input of run %s: %w", runID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("input of run %s: %w", runID, err)
	}
	return []byte(in), nil
}
