-- Retention: workers delete finished tasks (with their execution rows) once they are older than
-- their state's retention period. The pruner finds them along the primary key (ids are
-- time-ordered, so every task finished before a cutoff was created before it too); no index is
-- added, so finishing a task costs what it did. This table counts what was pruned, fleet-wide,
-- for /api/v1/stats.
CREATE TABLE task_prune_stats (
    status         text        PRIMARY KEY CHECK (status IN ('completed', 'failed', 'cancelled')),
    pruned         bigint      NOT NULL DEFAULT 0,
    last_pruned_at timestamptz
);
