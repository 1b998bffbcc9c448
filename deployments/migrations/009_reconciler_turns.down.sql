DROP TABLE IF EXISTS reconciler_turns;
