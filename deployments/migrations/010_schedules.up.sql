-- Periodic tasks. A schedule names a task (type, payload, priority, attempts) and when it fires:
-- a cron expression read in an IANA time zone, or a fixed interval. Workers compute the next
-- fire time in Swift and keep it in next_fire_at; a firer takes due schedules with FOR UPDATE
-- SKIP LOCKED, so each is handled by one worker at a time.
CREATE TABLE schedules (
    name         text        PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 128),
    cron         text        NOT NULL,
    timezone     text        NOT NULL DEFAULT 'UTC',
    type         text        NOT NULL CHECK (length(type) BETWEEN 1 AND 128),
    payload      jsonb       NOT NULL DEFAULT 'null'::jsonb,
    priority     text        NOT NULL DEFAULT 'normal' CHECK (priority IN ('high', 'normal', 'low')),
    max_attempts integer     CHECK (max_attempts BETWEEN 1 AND 100),
    -- After an outage: 'skip' the missed fires, or fire 'once' for all of them.
    missed       text        NOT NULL DEFAULT 'skip' CHECK (missed IN ('skip', 'once')),
    paused       boolean     NOT NULL DEFAULT false,
    next_fire_at timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schedules_due_idx ON schedules (next_fire_at) WHERE NOT paused;

-- One row per fire: its identity (schedule, fire time) is the key, so two firers racing for the
-- same fire create one task. Kept apart from the task row, so pruning finished tasks never lets
-- a fire happen again; the pruner keeps a schedule's last fires and those inside the completed
-- tasks' retention period. Manual triggers are recorded too (manual = true).
CREATE TABLE schedule_fires (
    schedule text        NOT NULL REFERENCES schedules (name) ON DELETE CASCADE ON UPDATE CASCADE,
    fire_at  timestamptz NOT NULL,
    task_id  uuid        NOT NULL,
    manual   boolean     NOT NULL DEFAULT false,
    fired_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule, fire_at)
);

-- The schedule that created a task, if any.
ALTER TABLE tasks ADD COLUMN schedule text;
