DROP TABLE IF EXISTS task_prune_stats;
