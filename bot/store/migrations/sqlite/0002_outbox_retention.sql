-- Finished rows are pruned by finished_at; rows coalesced by a chat migration
-- had none, so they take their creation time.
UPDATE outbox SET finished_at = created_at WHERE status <> 'pending' AND finished_at IS NULL;
CREATE INDEX outbox_finished ON outbox(finished_at) WHERE status <> 'pending';
