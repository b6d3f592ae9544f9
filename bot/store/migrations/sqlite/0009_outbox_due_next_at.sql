-- outbox_due names next_at in its predicate (it holds for every row: the
-- column is NOT NULL) so that only a query that compares next_at, Due's
-- walk, may use it; a chat's pending rows are looked up in outbox_pending.
-- The same index as PostgreSQL's (its migration 0007 says why it needed it).
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox(platform, id) WHERE status = 'pending' AND next_at IS NOT NULL;
