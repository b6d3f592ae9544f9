-- People's /report: what fails for them on X (kind, stored as given), who
-- (user_id on the platform, to count people, never shown), where (chat_id,
-- grp: the Discord server, '' if none), at Unix ns as every time column. The
-- store keeps one per person (platform, user_id) per window: the index finds
-- a person's latest. Any replica records a report (no fence). Kept for
-- DB_ROUND_RETENTION and pruned with the rounds, by at.
CREATE TABLE reports (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform TEXT   NOT NULL,
    user_id  TEXT   NOT NULL,
    chat_id  TEXT   NOT NULL,
    grp      TEXT   NOT NULL DEFAULT '',
    kind     TEXT   NOT NULL,
    at       BIGINT NOT NULL
);
CREATE INDEX reports_at ON reports(at);
CREATE INDEX reports_person ON reports(platform, user_id, at);
