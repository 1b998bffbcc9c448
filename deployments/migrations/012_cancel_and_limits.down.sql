DROP INDEX IF EXISTS tasks_released_idx;
DROP TABLE IF EXISTS task_type_starts;
DROP TABLE IF EXISTS task_type_limits;
-- Attempts recorded as cancelled become failed, the closest state the older check allows.
UPDATE task_executions SET status = 'failed' WHERE status = 'cancelled';
ALTER TABLE task_executions DROP CONSTRAINT IF EXISTS task_executions_status_check;
ALTER TABLE task_executions ADD CONSTRAINT task_executions_status_check
    CHECK (status IN ('started', 'succeeded', 'failed')) NOT VALID;
DROP INDEX IF EXISTS tasks_cancel_requested_idx;
ALTER TABLE tasks DROP COLUMN IF EXISTS cancel_requested_at;
