-- Successful deploys (revisions) per environment, namespace and pipeline:
-- the manifests exactly as applied, for automatic rollback and pruning.
CREATE TABLE deployments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    environment TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    pipeline    TEXT NOT NULL DEFAULT '',
    revision    INTEGER NOT NULL,
    run_id      TEXT NOT NULL DEFAULT '',
    commit_sha  TEXT NOT NULL DEFAULT '',
    manifests   BLOB NOT NULL,
    objects     TEXT NOT NULL DEFAULT '[]',
    images      TEXT NOT NULL DEFAULT '[]',
    created_at  INTEGER NOT NULL,
    UNIQUE (environment, namespace, pipeline, revision)
);
CREATE INDEX deployments_run ON deployments (run_id);
