-- Times are Unix nanoseconds (UTC).
CREATE TABLE state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    state       TEXT    NOT NULL,
    since       INTEGER NOT NULL,
    pending     TEXT    NOT NULL DEFAULT '',
    streak      INTEGER NOT NULL DEFAULT 0,
    pending_since INTEGER NOT NULL DEFAULT 0,
    incident_id INTEGER REFERENCES incidents(id)
);

CREATE TABLE incidents (
    id       INTEGER PRIMARY KEY,
    start_at INTEGER NOT NULL,
    end_at   INTEGER,
    worst    TEXT    NOT NULL,
    causes   TEXT    NOT NULL DEFAULT '[]'
);

-- Raw rounds are kept for a retention period; uptime_hourly keeps the counts for good.
CREATE TABLE rounds (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    verdict     TEXT    NOT NULL,
    duration_ns INTEGER NOT NULL,
    control_ok  INTEGER NOT NULL,
    results     TEXT    NOT NULL
);
CREATE INDEX rounds_at ON rounds(at);

CREATE TABLE uptime_hourly (
    hour     INTEGER PRIMARY KEY,
    up       INTEGER NOT NULL DEFAULT 0,
    degraded INTEGER NOT NULL DEFAULT 0,
    down     INTEGER NOT NULL DEFAULT 0,
    unknown  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE subscriptions (
    platform   TEXT    NOT NULL,
    chat_id    TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    grp        TEXT    NOT NULL DEFAULT '',
    lang       TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    PRIMARY KEY (platform, chat_id)
);
CREATE INDEX subscriptions_grp ON subscriptions(platform, grp);

CREATE TABLE changes (
    id          INTEGER PRIMARY KEY,
    from_state  TEXT    NOT NULL,
    to_state    TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    began       INTEGER NOT NULL,
    incident_id INTEGER REFERENCES incidents(id),
    causes      TEXT    NOT NULL DEFAULT '[]'
);

-- One row per (change, subscribed chat), written with the change.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    change_id   INTEGER NOT NULL REFERENCES changes(id),
    platform    TEXT    NOT NULL,
    chat_id     TEXT    NOT NULL,
    lang        TEXT    NOT NULL DEFAULT '',
    status      TEXT    NOT NULL DEFAULT 'pending',
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    finished_at INTEGER,
    message_id  TEXT    NOT NULL DEFAULT '',
    reason      TEXT    NOT NULL DEFAULT '',
    UNIQUE (change_id, platform, chat_id)
);
CREATE INDEX outbox_pending ON outbox(platform, chat_id, id) WHERE status = 'pending';
CREATE INDEX outbox_chat ON outbox(platform, chat_id, change_id);
