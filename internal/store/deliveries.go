package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ClaimDelivery records the webhook delivery (provider, id) and reports
// true, or reports false when it was recorded before: a replay. Concurrent
// claims of one delivery let exactly one caller win.
func (s *DB) ClaimDelivery(ctx context.Context, provider, id string) (bool, error) {
	res, err := s.db.ExecContext(ctx,
		`INSERT INTO webhook_deliveries (provider, delivery_id, received_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
		provider, id, s.now().UnixNano())
	if err != nil {
		return false, fmt.Errorf("claim delivery %s/%s: %w", provider, id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("claim delivery %s/%s: %w", provider, id, err)
	}
	return n == 1, nil
}

// ReleaseDelivery forgets the delivery, so that a redelivery after a failed
// dispatch is processed again. Releasing an unknown delivery is a no-op.
func (s *DB) ReleaseDelivery(ctx context.Context, provider, id string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE provider = ? AND delivery_id = ?`, provider, id); err != nil {
		return fmt.Errorf("release delivery %s/%s: %w", provider, id, err)
	}
	return nil
}

// PruneDeliveries forgets deliveries received before t (forges redeliver
// within hours, so keeping a few days is plenty) and returns how many.
func (s *DB) PruneDeliveries(ctx context.Context, before time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE received_at < ?`, before.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	return int(n), nil
}

// GetTriggerState returns the value stored under key; ok is false when
// there is none.
func (s *DB) GetTriggerState(ctx context.Context, key string) (string, bool, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM trigger_state WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("trigger state %s: %w", key, err)
	}
	return v, true, nil
}

// PutTriggerState stores value under key, replacing what was there.
func (s *DB) PutTriggerState(ctx context.Context, key, value string) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO trigger_state (key, value, updated_at) VALUES (?, ?, ?)
		 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		key, value, s.now().UnixNano())
	if err != nil {
		return fmt.Errorf("trigger state %s: %w", key, err)
	}
	return nil
}

// DeleteTriggerState removes key; a missing key is not an error.
func (s *DB) DeleteTriggerState(ctx context.Context, key string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM trigger_state WHERE key = ?`, key); err != nil {
		return fmt.Errorf("trigger state %s: %w", key, err)
	}
	return nil
}
