-- Runs, timeline records and the logs index (PostgreSQL: see ../0001_init.sql).
-- Times are Unix nanoseconds (BIGINT), JSON is TEXT: the store reads both
-- databases with the same code.
CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    number      BIGINT NOT NULL,
    pipeline    TEXT NOT NULL,
    file        TEXT NOT NULL DEFAULT '',
    repository  TEXT NOT NULL DEFAULT '',
    commit_sha  TEXT NOT NULL DEFAULT '',
    branch      TEXT NOT NULL DEFAULT '',
    event       TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL DEFAULT '',
    state       TEXT NOT NULL DEFAULT '',
    result      TEXT NOT NULL DEFAULT '',
    params      TEXT NOT NULL DEFAULT '{}',
    variables   TEXT NOT NULL DEFAULT '{}',
    plan        BYTEA,
    owner       TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    started_at  BIGINT,
    finished_at BIGINT,
    UNIQUE (pipeline, number)
);
CREATE INDEX runs_state ON runs (state);

CREATE TABLE run_tags (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    tag    TEXT NOT NULL,
    PRIMARY KEY (run_id, tag)
);
CREATE INDEX run_tags_tag ON run_tags (tag);

CREATE TABLE records (
    run_id         TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    id             TEXT NOT NULL,
    attempt        INTEGER NOT NULL,
    parent_id      TEXT NOT NULL DEFAULT '',
    type           TEXT NOT NULL DEFAULT '',
    name           TEXT NOT NULL DEFAULT '',
    display_name   TEXT NOT NULL DEFAULT '',
    sort_order     INTEGER NOT NULL DEFAULT 0,
    state          TEXT NOT NULL DEFAULT '',
    result         TEXT NOT NULL DEFAULT '',
    started_at     BIGINT,
    finished_at    BIGINT,
    outputs        TEXT NOT NULL DEFAULT '{}',
    secret_outputs TEXT NOT NULL DEFAULT '[]',
    issues         TEXT NOT NULL DEFAULT '[]',
    error_count    INTEGER NOT NULL DEFAULT 0,
    warning_count  INTEGER NOT NULL DEFAULT 0,
    log_lines      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, id, attempt)
);

-- One row per log file under the log folder; the lines live in the file.
CREATE TABLE logs (
    run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    record_id TEXT NOT NULL,
    attempt   INTEGER NOT NULL,
    path      TEXT NOT NULL,
    lines     BIGINT NOT NULL DEFAULT 0,
    closed    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, record_id, attempt)
);
