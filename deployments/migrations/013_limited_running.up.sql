-- The running tasks of types with a concurrency limit, as the limited claim counts them. Counting
-- them in `tasks` walked every index entry a running version ever left behind (tens of thousands
-- under load, 10-25 ms per claim); here the claim reads a handful of rows and checks each task by
-- its key. The claim adds what it starts and removes tasks that stopped running; setting a limit,
-- and every worker every few seconds, adds running tasks that were claimed without the limit.
CREATE TABLE task_type_running (
    task_id uuid PRIMARY KEY,
    type    text NOT NULL
);
CREATE INDEX task_type_running_type_idx ON task_type_running (type);
