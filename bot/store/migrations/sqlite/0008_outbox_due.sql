-- At 100,000 subscribers (measured with 30 days of daily outages kept):
-- The dispatcher pages through the due chats in the order of their oldest
-- pending row (Due): this index walks the pending rows in that order, so a
-- page of 64 chats reads about 64 rows however many are pending (the query
-- that grouped every pending row by chat took 30 ms, and 270 ms on
-- PostgreSQL). Rows are appended at its end.
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
-- was written again (3–4 s and 190 MB of write-ahead log per fan-out,
-- instead of 1 s and 13 MB), and it was a quarter of the file.
DROP INDEX outbox_chat;
