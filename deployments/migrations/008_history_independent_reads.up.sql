-- Reads that do not grow with history.
--
-- Listing by type and by a priority other than normal: walking the primary key and filtering
-- reads the whole history when the type or priority is rare. These indexes hold finished tasks
-- only: a task gets one entry, when it finishes, instead of one per status change (every update
-- of a task adds an entry to every index whose columns or condition it touches). Unfinished tasks,
-- the backlog, are listed along tasks_status_idx. Normal priority, the default and most tasks, is
-- left out (it walks the primary key). Both are ordered by id, newest first, so deep pages (a
-- cursor) start where the page left off. Creating them holds writes to `tasks` back while they
-- build: on a large table, apply this migration when the queue is quiet.
CREATE INDEX tasks_type_idx ON tasks (type, id DESC) WHERE status IN ('completed', 'failed', 'cancelled');
CREATE INDEX tasks_priority_idx ON tasks (priority, id DESC)
    WHERE priority <> 'normal' AND status IN ('completed', 'failed', 'cancelled');

-- /api/v1/stats counted every row by status and priority, seconds of PostgreSQL time once
-- history is months long. Unfinished tasks (the backlog) are still counted from tasks_status_idx;
-- finished ones are counted by the statements that change them: the finish of an attempt and a
-- cancel append a row per status and priority to task_count_deltas (+n), a retry of a failed task
-- and the pruner append -n. Appending takes no lock that another statement waits for and updates
-- no row over and over; the workers' reconcilers fold the deltas into task_counts (totals) and
-- task_finish_seconds (finishes per second, kept an hour) every few seconds, in one statement.
-- A count is the total plus the deltas not yet folded.
CREATE TABLE task_counts (
    status   text   NOT NULL CHECK (status IN ('completed', 'failed', 'cancelled')),
    priority text   NOT NULL,
    n        bigint NOT NULL,
    PRIMARY KEY (status, priority)
);
-- The indexes above hold writes back until this transaction commits, so this count is exact.
INSERT INTO task_counts (status, priority, n)
SELECT status, priority, count(*) FROM tasks
WHERE status IN ('completed', 'failed', 'cancelled')
GROUP BY status, priority;

CREATE TABLE task_count_deltas (
    status   text        NOT NULL CHECK (status IN ('completed', 'failed', 'cancelled')),
    priority text        NOT NULL,
    n        bigint      NOT NULL,
    at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE task_finish_seconds (
    second timestamptz NOT NULL,
    status text        NOT NULL CHECK (status IN ('completed', 'failed', 'cancelled')),
    n      bigint      NOT NULL,
    PRIMARY KEY (second, status)
);
