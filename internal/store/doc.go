// Package store persists runs, stages, jobs, steps, attempts, logs,
// approvals, audit records, deployments, agent leases, tokens and trigger
// state, in SQLite (the default) or PostgreSQL.
//
// Store is the whole contract, checked by the shared suite in storetest
// against every database; consumers declare the smaller interfaces they
// need. One type, DB, serves both databases with the same SQL (? placeholders,
// ON CONFLICT, RETURNING), opened by Open from a file path or a postgres://
// URL. Each database has its versioned migrations embedded from
// migrations/NNNN_*.sql (SQLite) and migrations/postgres/NNNN_*.sql (the same
// versions in PostgreSQL's types), recorded in schema_migrations.
//
// Concurrency is the same on both: write transactions are serializable
// (SQLite takes its one write lock at BEGIN; PostgreSQL runs them
// SERIALIZABLE and DB retries the loser of a race), so a lease goes to one
// agent, a webhook delivery is claimed once (a primary key), run numbers
// and revisions never repeat, and the audit log, which the database itself
// refuses to change, reads back in the order it was written. Several
// processes may open one database at once (a server and conveyor token
// create, say): a SQLite file on one machine, a PostgreSQL database from
// anywhere.
//
// Step logs are append-only files under the log folder
// (<dir of the database>/logs, or WithLogDir, which PostgreSQL needs),
// <run>/<record>.<attempt>.log, indexed by the logs table: one write(2) per
// line makes every line handed to WriteLine survive a crash of the process.
// With PostgreSQL the files stay on the machine of the server that ran the
// step.
//
// It must not import the engine or anything above it in the flow.
package store
