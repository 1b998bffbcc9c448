DROP TABLE IF EXISTS task_finish_seconds;
DROP TABLE IF EXISTS task_count_deltas;
DROP TABLE IF EXISTS task_counts;
DROP INDEX IF EXISTS tasks_priority_idx;
DROP INDEX IF EXISTS tasks_type_idx;
