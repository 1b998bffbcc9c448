DROP INDEX IF EXISTS tasks_publish_failed_idx;
ALTER TABLE tasks DROP COLUMN IF EXISTS publish_failed_at;
