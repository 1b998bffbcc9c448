-- Every status change writes a new tuple version into every index, so each index costs several
-- entries per task. Keep only what queries need (measured: index upkeep dominated claim and finish).
DROP INDEX IF EXISTS tasks_type_created_idx;      -- listing by type filters the created_at order instead
DROP INDEX IF EXISTS tasks_inflight_idx;          -- the reconciler's lost-message scan is infrequent
DROP INDEX IF EXISTS task_executions_finished_idx; -- no query used it
-- Most tasks have no idempotency key: index only those that do.
ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_idempotency_key_key;
CREATE UNIQUE INDEX tasks_idempotency_key_idx ON tasks (idempotency_key) WHERE idempotency_key IS NOT NULL;
-- Room on each page lets lease renewals and execution updates stay on the page (HOT updates).
ALTER TABLE tasks SET (fillfactor = 85);
ALTER TABLE task_executions SET (fillfactor = 85);
