-- What the dashboard shows of each worker beyond its heartbeat: the task types it handles (the
-- types the queues page lists) and how long its tasks waited from due to start in the last
-- minute, as counts per latency bucket (bucket i holds waits up to 0.1 ms * 1.25^i; the last
-- holds everything longer). Summing the online workers' rows gives the fleet's percentiles
-- without reading a row per task.
ALTER TABLE workers ADD COLUMN types text[] NOT NULL DEFAULT '{}';
ALTER TABLE workers ADD COLUMN start_latency integer[] NOT NULL DEFAULT '{}';
