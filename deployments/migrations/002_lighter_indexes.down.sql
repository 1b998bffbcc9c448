ALTER TABLE task_executions RESET (fillfactor);
ALTER TABLE tasks RESET (fillfactor);
DROP INDEX IF EXISTS tasks_idempotency_key_idx;
ALTER TABLE tasks ADD CONSTRAINT tasks_idempotency_key_key UNIQUE (idempotency_key);
CREATE INDEX task_executions_finished_idx ON task_executions (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX tasks_inflight_idx ON tasks (updated_at) WHERE status IN ('queued', 'running', 'retrying');
CREATE INDEX tasks_type_created_idx ON tasks (type, created_at DESC, id DESC);
