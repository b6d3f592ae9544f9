-- Time in state: one row per stretch of consecutive rounds in the same
-- announced state ('unknown' while the bot could not tell). Time between a
-- span's to_at and the next span's from_at is a gap: the bot was not running.
CREATE TABLE spans (
    id      INTEGER PRIMARY KEY,
    state   TEXT    NOT NULL,
    from_at INTEGER NOT NULL,
    to_at   INTEGER NOT NULL
);
CREATE INDEX spans_to ON spans(to_at);
