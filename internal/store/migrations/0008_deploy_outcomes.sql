-- Every deployment job's outcome per environment, successful or not, for
-- the DORA metrics (internal/observe): the deployments table keeps only the
-- successful revisions that rollback needs. A post-deploy watch may later
-- turn a succeeded outcome into degraded.
CREATE TABLE deploy_outcomes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    environment TEXT NOT NULL,
    pipeline    TEXT NOT NULL DEFAULT '',
    run_id      TEXT NOT NULL,
    job         TEXT NOT NULL,               -- the deployment job's record ID ("Deploy.Web")
    commit_sha  TEXT NOT NULL DEFAULT '',
    commit_at   INTEGER,                     -- when the change was committed (else the first run of the commit)
    status      TEXT NOT NULL,               -- succeeded | failed | degraded
    reason      TEXT NOT NULL DEFAULT '',
    started_at  INTEGER,
    finished_at INTEGER NOT NULL,
    watch_until INTEGER,                     -- the post-deploy watch lasts until then
    UNIQUE (run_id, job)
);
CREATE INDEX deploy_outcomes_env ON deploy_outcomes (environment, finished_at);
CREATE INDEX runs_commit ON runs (commit_sha, created_at);
