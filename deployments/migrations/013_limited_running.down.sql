DROP TABLE IF EXISTS task_type_running;
