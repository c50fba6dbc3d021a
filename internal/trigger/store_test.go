package trigger

import "conveyor.dev/conveyor/internal/store"

// The store keeps deliveries and trigger state for the server.
var (
	_ Deliveries = (*store.SQLite)(nil)
	_ State      = (*store.SQLite)(nil)
)
