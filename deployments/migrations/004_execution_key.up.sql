-- An execution is named by its task and attempt; the surrogate bigserial key was one more index
-- entry per attempt that no query used. More free room per page keeps the finish update of an
-- attempt on its page (a HOT update, no index entries): 85% left about half of them non-HOT.
-- Rebuilding the key index locks task_executions while it runs (seconds per million rows).
ALTER TABLE task_executions DROP CONSTRAINT task_executions_pkey;
ALTER TABLE task_executions DROP COLUMN id;
ALTER TABLE task_executions
    DROP CONSTRAINT task_executions_task_id_attempt_key,
    ADD CONSTRAINT task_executions_pkey PRIMARY KEY (task_id, attempt);
ALTER TABLE task_executions SET (fillfactor = 70);
