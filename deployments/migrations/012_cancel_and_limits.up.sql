-- Cancelling a running task: the request is recorded on the task, the worker running it polls for
-- requests (the partial index holds only running tasks with one, so the poll reads a handful of
-- entries), and the statement that records the attempt's outcome ends the task cancelled whatever
-- the handler returned. The attempt's execution row says `cancelled`.
ALTER TABLE tasks ADD COLUMN cancel_requested_at timestamptz;
CREATE INDEX tasks_cancel_requested_idx ON tasks (lease_owner) WHERE cancel_requested_at IS NOT NULL AND status = 'running';

-- Existing rows all satisfy the wider check; NOT VALID spares the upgrade a scan of every attempt.
ALTER TABLE task_executions DROP CONSTRAINT IF EXISTS task_executions_status_check;
ALTER TABLE task_executions ADD CONSTRAINT task_executions_status_check
    CHECK (status IN ('started', 'succeeded', 'failed', 'cancelled')) NOT VALID;

-- Fleet-wide limits per task type: at most `concurrency` running at once, at most `rate_count`
-- attempts started in any `rate_per_seconds` window. Claims that may meet a limited type lock its
-- row first, so claims of one limited type take turns and each counts what the others committed.
-- `declared` is the limit as code last declared it: a worker start applies a declaration only
-- when it differs from that, so a change made at run time (REST) survives restarts.
CREATE TABLE task_type_limits (
    type             text        PRIMARY KEY CHECK (length(type) BETWEEN 1 AND 128),
    concurrency      integer     CHECK (concurrency BETWEEN 1 AND 1000000),
    rate_count       integer     CHECK (rate_count BETWEEN 1 AND 1000000),
    rate_per_seconds integer     CHECK (rate_per_seconds BETWEEN 1 AND 86400),
    declared         text,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((rate_count IS NULL) = (rate_per_seconds IS NULL)),
    CHECK (concurrency IS NOT NULL OR rate_count IS NOT NULL)
);

-- When each attempt of a rate-limited type started, for as long as its window: the claim counts
-- the window's starts here and deletes those that left it.
CREATE TABLE task_type_starts (
    type       text        NOT NULL,
    started_at timestamptz NOT NULL
);
CREATE INDEX task_type_starts_idx ON task_type_starts (type, started_at);

-- A task over its type's limit is held like a task of a paused type, and released (published
-- again) as the limit allows. A released task keeps held_at until a claim takes it, so releases
-- count the ones still on their way (published, not yet claimed) against the room they release into.
CREATE INDEX tasks_released_idx ON tasks (type, published_at) WHERE held_at IS NOT NULL AND published_at IS NOT NULL;
