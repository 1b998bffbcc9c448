-- Every worker process records itself here when it starts, again every few seconds while it runs
-- (with how many tasks it runs), and once more when it stops: what the dashboard shows as the
-- fleet. A row whose heartbeat is three intervals old is a worker that is gone; rows a day old
-- are deleted by the next heartbeat of any worker.
CREATE TABLE workers (
    id           text        PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 256),
    host         text        NOT NULL,
    pid          integer     NOT NULL,
    version      text        NOT NULL,
    concurrency  integer     NOT NULL,
    running      integer     NOT NULL DEFAULT 0,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    stopped_at   timestamptz
);
