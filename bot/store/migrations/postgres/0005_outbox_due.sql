-- At 100,000 subscribers (measured with 30 days of daily outages kept):
-- The dispatcher pages through the due chats in the order of their oldest
-- pending row (Due): this index walks the pending rows in that order, so a
-- page of 64 chats reads about 64 rows however many are pending (the query
-- that grouped every pending row by chat took 270 ms, 30 ms on SQLite).
-- Rows are appended at its end.
-- next_at IS NOT NULL holds for every row (the column is NOT NULL): it is
-- there so that only a query that compares next_at, Due's walk, may use
-- this index. A chat's pending rows are looked up in outbox_pending: once
-- VACUUM has found none pending, PostgreSQL believes both partial indexes
-- empty, and it looked a chat up in this one by platform alone, reading
-- every pending row for each chat of a page (the 10 s statement timeout at
-- 90,000 pending).
CREATE INDEX outbox_due ON outbox(platform, id) WHERE status = 'pending' AND next_at IS NOT NULL;
-- A chat's history is found change by change in the unique (change_id,
-- platform, chat_id) index instead (store.newestHeard): an index by chat
-- took one new entry per chat on every fan-out, so every one of its pages
-- was written again on each, and it was a quarter of the database.
DROP INDEX outbox_chat;
-- No foreign key from the outbox to its change: PostgreSQL checked it row by
-- row, 0.65–0.7 s of a 1.65 s fan-out to 90,000 chats (EXPLAIN ANALYZE). The
-- store writes a change and its rows in one leader transaction and prunes
-- a change only once no row refers to it; SQLite still checks (by rowid,
-- for next to nothing).
ALTER TABLE outbox DROP CONSTRAINT outbox_change_id_fkey;
-- The outbox changes by fan-outs of 90,000 rows, each then updated once
-- (sent): at the default scale factors (20% for VACUUM, 10% for ANALYZE of
-- millions of rows kept) several fan-outs passed before the statistics saw
-- them, and dead entries piled up in the partial indexes the dispatcher
-- walks. At 1% each fan-out is analysed and its dead rows are vacuumed soon.
ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.01);
