ALTER TABLE task_executions SET (fillfactor = 85);
ALTER TABLE task_executions
    DROP CONSTRAINT task_executions_pkey,
    ADD CONSTRAINT task_executions_task_id_attempt_key UNIQUE (task_id, attempt);
ALTER TABLE task_executions ADD COLUMN id bigserial PRIMARY KEY;
