-- Tasks: PostgreSQL is the source of truth for every task; JetStream only carries ids.
CREATE TABLE tasks (
    id               uuid        PRIMARY KEY,
    type             text        NOT NULL CHECK (length(type) BETWEEN 1 AND 128),
    payload          jsonb       NOT NULL DEFAULT 'null'::jsonb,
    priority         text        NOT NULL DEFAULT 'normal' CHECK (priority IN ('high', 'normal', 'low')),
    status           text        NOT NULL CHECK (status IN ('scheduled', 'queued', 'running', 'retrying', 'completed', 'failed', 'cancelled')),
    attempts         integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     integer     NOT NULL CHECK (max_attempts BETWEEN 1 AND 100),
    -- Attempts made before the current run: a replay grants max_attempts afresh while attempt
    -- numbers keep counting up, so every execution row keeps its own number.
    attempt_base     integer     NOT NULL DEFAULT 0,
    run_at           timestamptz NOT NULL DEFAULT now(),
    idempotency_key  text        UNIQUE,
    last_error       text,
    lease_owner      text,
    lease_expires_at timestamptz,
    -- Publish bookkeeping: generation names the message (Nats-Msg-Id "<id>:<generation>"),
    -- published_at/published_seq say which copy the stream holds, so the reconciler can tell a
    -- backlog that is still in the stream from a message that was lost.
    publish_generation integer   NOT NULL DEFAULT 0,
    published_at     timestamptz,
    published_seq    bigint,
    dead_lettered_at timestamptz,
    -- When the reconciler last found this task's message still in the stream.
    verified_at      timestamptz,
    version          bigint      NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz
);

-- Listing newest first with cursor pagination, optionally by status/type/priority.
CREATE INDEX tasks_created_idx ON tasks (created_at DESC, id DESC);
CREATE INDEX tasks_status_created_idx ON tasks (status, created_at DESC, id DESC);
CREATE INDEX tasks_type_created_idx ON tasks (type, created_at DESC, id DESC);
-- Reconciler scans: only the rows still in flight are indexed.
CREATE INDEX tasks_unpublished_idx ON tasks (created_at) WHERE published_at IS NULL AND status IN ('queued', 'retrying');
CREATE INDEX tasks_scheduled_idx ON tasks (run_at) WHERE status = 'scheduled';
CREATE INDEX tasks_inflight_idx ON tasks (updated_at) WHERE status IN ('queued', 'running', 'retrying');
CREATE INDEX tasks_dead_letter_idx ON tasks (finished_at) WHERE status = 'failed' AND dead_lettered_at IS NULL;

-- Every attempt, in order; attempt numbers are unique per task.
CREATE TABLE task_executions (
    id          bigserial   PRIMARY KEY,
    task_id     uuid        NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    attempt     integer     NOT NULL CHECK (attempt >= 1),
    status      text        NOT NULL CHECK (status IN ('started', 'succeeded', 'failed')),
    error       text,
    worker_id   text        NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    duration_ms double precision,
    UNIQUE (task_id, attempt)
);
CREATE INDEX task_executions_finished_idx ON task_executions (finished_at) WHERE finished_at IS NOT NULL;
