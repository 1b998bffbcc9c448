-- The reconciler's two scans that read every in-flight task (for lost messages) or every
-- unconfirmed one take turns across the fleet: one worker runs each scan per interval, however
-- many workers there are. Their cost grows with dead index entries while a long transaction
-- keeps vacuum from removing them (a 10-minute transaction at 3,000 tasks/s: a second and a half
-- per lost-message scan), so a scan that took long also waits longer before its next turn.
CREATE TABLE reconciler_turns (
    scan       text        PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT '-infinity',
    took       interval    NOT NULL DEFAULT '0'
);
INSERT INTO reconciler_turns (scan) VALUES ('lost'), ('unconfirmed');
