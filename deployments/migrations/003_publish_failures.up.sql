-- Enqueue no longer writes every publish back to its row (a claim or the reconciler records the
-- message), so "no publish recorded" alone cannot tell a backlog from a task the stream never
-- took. An enqueuer that saw its publish fail says so here, and the reconciler publishes such
-- tasks after a short grace instead of the longer confirmation wait.
ALTER TABLE tasks ADD COLUMN publish_failed_at timestamptz;
-- The reconciler finds flagged tasks here; unflagged ones by age on tasks_unpublished_idx.
CREATE INDEX tasks_publish_failed_idx ON tasks (updated_at)
    WHERE publish_failed_at IS NOT NULL AND published_at IS NULL AND status IN ('queued', 'retrying');
