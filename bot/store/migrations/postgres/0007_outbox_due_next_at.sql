-- outbox_due names next_at in its predicate (it holds for every row: the
-- column is NOT NULL) so that only a query that compares next_at, Due's
-- walk, may use it. A chat's pending rows are looked up in outbox_pending:
-- once VACUUM had found none pending, PostgreSQL believed both partial
-- indexes empty, and it looked a chat up in outbox_due by platform alone,
-- reading every pending row for each chat of a page (the 10 s statement
-- timeout at 90,000 pending).
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox(platform, id) WHERE status = 'pending' AND next_at IS NOT NULL;
