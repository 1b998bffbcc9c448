-- The earlier code expects every running attempt to have an open execution row to close.
INSERT INTO task_executions (task_id, attempt, status, worker_id, started_at)
SELECT id, attempts, 'started', lease_owner, coalesce(attempt_started_at, now())
FROM tasks WHERE status = 'running' AND lease_owner IS NOT NULL
ON CONFLICT (task_id, attempt) DO NOTHING;
ALTER TABLE task_executions SET (fillfactor = 70);
ALTER TABLE tasks DROP COLUMN IF EXISTS attempt_started_at;
