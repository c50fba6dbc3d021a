-- Approvals and their decisions, the append-only audit log, environment
-- locks, and what the engine needs to resume a run.
CREATE TABLE approvals (
    id          TEXT PRIMARY KEY,
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    gate        TEXT NOT NULL,               -- the record it holds: a stage ("Deploy") or a job ("Deploy.Validate")
    kind        TEXT NOT NULL,               -- environment | manualValidation
    environment TEXT NOT NULL DEFAULT '',
    requester   TEXT NOT NULL DEFAULT '',
    policy      TEXT NOT NULL DEFAULT '{}',  -- JSON ApprovalPolicy
    release     TEXT NOT NULL DEFAULT '{}',  -- JSON Release: the digests and manifests hash it releases
    state       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    decided_at  INTEGER
);
CREATE INDEX approvals_run ON approvals (run_id, gate);
CREATE INDEX approvals_state ON approvals (state);

-- One row per decision; rows are only ever inserted.
CREATE TABLE approval_decisions (
    approval_id TEXT NOT NULL REFERENCES approvals (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    user        TEXT NOT NULL,
    decision    TEXT NOT NULL,               -- approve | reject
    comment     TEXT NOT NULL DEFAULT '',
    release     TEXT NOT NULL DEFAULT '{}',
    at          INTEGER NOT NULL,
    PRIMARY KEY (approval_id, seq)
);

-- The audit log is append-only: the database refuses to change or delete a row.
CREATE TABLE audit_log (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL DEFAULT '',
    action  TEXT NOT NULL,
    run_id  TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    detail  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_run ON audit_log (run_id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- Exclusive locks of environments: one request per (environment, run, gate).
CREATE TABLE env_locks (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    environment  TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    gate         TEXT NOT NULL,
    behavior     TEXT NOT NULL,              -- sequential | runLatest
    state        TEXT NOT NULL,              -- waiting | held | released | canceled
    requested_at INTEGER NOT NULL,
    changed_at   INTEGER NOT NULL,
    UNIQUE (environment, run_id, gate)
);
CREATE INDEX env_locks_env ON env_locks (environment, state);

-- What started a run, as the engine needs it to resume the run.
CREATE TABLE run_inputs (
    run_id TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    input  TEXT NOT NULL
);
