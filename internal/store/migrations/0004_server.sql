-- API tokens and the job leases of remote agents (conveyor server).

-- A token is stored as the SHA-256 of its secret: the secret itself is shown
-- once, when created, and never kept.
CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    user_name   TEXT NOT NULL,
    role        TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

-- One row per job handed to agents. state: queued (waiting for an agent),
-- leased (an agent holds it until expires_at unless it heartbeats), done,
-- failed (its lease expired too often) or abandoned (its server stopped).
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
    expires_at  INTEGER,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX leases_state ON leases (state, created_at);
