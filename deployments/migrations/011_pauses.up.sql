-- Pausing a priority or a task type, fleet-wide. Workers read task_pauses every second: a paused
-- priority's consumer is not fetched from (messages already fetched go back to the stream); a
-- task of a paused type that a worker claims is held instead (held_at set, no attempt spent, its
-- message acknowledged), and resuming the type publishes its held tasks again in id order.
CREATE TABLE task_pauses (
    kind      text        NOT NULL CHECK (kind IN ('priority', 'type')),
    name      text        NOT NULL,
    paused_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, name)
);

ALTER TABLE tasks ADD COLUMN held_at timestamptz;
CREATE INDEX tasks_held_idx ON tasks (type, id) WHERE held_at IS NOT NULL;
