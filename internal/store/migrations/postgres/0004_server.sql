-- API tokens and the job leases of remote agents (PostgreSQL: see
-- ../0004_server.sql).
CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    user_name   TEXT NOT NULL,
    role        TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE leases (
    id          TEXT PRIMARY KEY,
    run_id      TEXT NOT NULL,
    job_id      TEXT NOT NULL,
    spec        TEXT NOT NULL DEFAULT '{}',
    demands     TEXT NOT NULL DEFAULT '[]',
    state       TEXT NOT NULL,
    agent       TEXT NOT NULL DEFAULT '',
    token       TEXT NOT NULL DEFAULT '',
    attempt     INTEGER NOT NULL DEFAULT 0,
    excluded    TEXT NOT NULL DEFAULT '[]',
    expires_at  BIGINT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX leases_state ON leases (state, created_at);
