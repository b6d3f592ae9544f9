-- outbox_finished names finished_at in its predicate, as outbox_due names
-- next_at (0007): only pruning, which compares finished_at, may use it.
-- Planned on statistics from before a fan-out's sends (a fan-out is
-- analyzed while all its rows are pending), the subquery that finds the
-- message a recovery replies to believed this index held one row and
-- scanned every row finished so far for each row of a Due, instead of
-- looking it up in the unique (change_id, platform, chat_id) index: a page
-- of 1,000 chats took 2 s and more as the fan-out went on.
DROP INDEX outbox_finished;
CREATE INDEX outbox_finished ON outbox(finished_at) WHERE status <> 'pending' AND finished_at IS NOT NULL;
