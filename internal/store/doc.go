// Package store persists runs, stages, jobs, steps, attempts, logs,
// approvals and audit records. SQLite is the default implementation.
//
// Store is the whole contract, checked by the shared suite in storetest
// against every implementation; consumers declare the smaller interfaces
// they need. The SQLite implementation keeps runs and timeline records in
// one database file (WAL mode, busy timeout, versioned migrations embedded
// from migrations/NNNN_*.sql and recorded in schema_migrations) and step
// logs in append-only files under <data>/logs/<run>/<record>.<attempt>.log,
// indexed by the logs table: one write(2) per line makes every line handed
// to WriteLine survive a crash of the process.
//
// It must not import the engine or anything above it in the flow.
package store
