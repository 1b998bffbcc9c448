-- An attempt's execution row is written once, whole, when the attempt ends (by its finish, or by
-- the claim that takes over its expired lease) instead of inserted at the claim and updated at the
-- finish: one row write per attempt instead of two. The claim already updates the task row, so it
-- records there when the attempt started; reads show the running attempt from the task row.
--
-- Attempts claimed before this migration keep their open row, and whichever code finishes them
-- closes it. Upgrade note: a worker of the earlier code that takes over an expired lease of an
-- attempt started by this code finds no open row to close, so stop the earlier workers before
-- starting these (a rolling restart loses nothing else).
ALTER TABLE tasks ADD COLUMN attempt_started_at timestamptz;
-- Execution rows are no longer updated in place, so they need no free room on their pages.
ALTER TABLE task_executions RESET (fillfactor);
