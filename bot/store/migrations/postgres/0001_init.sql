-- The whole schema of the SQLite store (its migrations 0001 to 0004) plus
-- issue 13's, in one step: there is no installed base on PostgreSQL yet.
-- Times are Unix nanoseconds (UTC) in BIGINT, as in SQLite, so the SQL ports
-- one to one; only the lease and claim expiries are timestamptz, compared
-- with the database's clock (now()), never a replica's.
-- Chat ids, platforms and regions sort bytewise (COLLATE "C"), as in SQLite.

CREATE TABLE incidents (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    start_at BIGINT NOT NULL,
    end_at   BIGINT,
    worst    TEXT   NOT NULL,
    causes   TEXT   NOT NULL DEFAULT '[]'
);

-- The tracker state: one row. flap_since 0: X is stable; flap_change is the
-- change that announced the unstable period going on.
CREATE TABLE state (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    state         TEXT    NOT NULL,
    since         BIGINT  NOT NULL,
    pending       TEXT    NOT NULL DEFAULT '',
    streak        INTEGER NOT NULL DEFAULT 0,
    pending_since BIGINT  NOT NULL DEFAULT 0,
    incident_id   BIGINT  REFERENCES incidents(id),
    flap_since    BIGINT  NOT NULL DEFAULT 0,
    flap_changes  INTEGER NOT NULL DEFAULT 0,
    flap_worst    TEXT    NOT NULL DEFAULT '',
    flap_change   BIGINT  NOT NULL DEFAULT 0
);

-- Raw rounds are kept for a retention period; uptime_hourly keeps the counts for good.
CREATE TABLE rounds (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          BIGINT  NOT NULL,
    verdict     TEXT    NOT NULL,
    duration_ns BIGINT  NOT NULL,
    control_ok  BOOLEAN NOT NULL,
    results     TEXT    NOT NULL
);
CREATE INDEX rounds_at ON rounds(at);

CREATE TABLE uptime_hourly (
    hour     BIGINT PRIMARY KEY,
    up       BIGINT NOT NULL DEFAULT 0,
    degraded BIGINT NOT NULL DEFAULT 0,
    down     BIGINT NOT NULL DEFAULT 0,
    unknown  BIGINT NOT NULL DEFAULT 0
);

-- Per-chat settings (issue 12) live on the subscription so that ending it
-- resets them. level: 'all' or 'outages'; muted_until: 0 when not muted;
-- remind_every: ns, 0 when off.
CREATE TABLE subscriptions (
    platform     TEXT COLLATE "C" NOT NULL,
    chat_id      TEXT COLLATE "C" NOT NULL,
    kind         TEXT   NOT NULL,
    grp          TEXT   NOT NULL DEFAULT '',
    lang         TEXT   NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    level        TEXT   NOT NULL DEFAULT 'all',
    muted_until  BIGINT NOT NULL DEFAULT 0,
    remind_every BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (platform, chat_id)
);
CREATE INDEX subscriptions_grp ON subscriptions(platform, grp);
-- Each round looks for ended mutes and due reminders: only these chats.
CREATE INDEX subscriptions_muted ON subscriptions(muted_until) WHERE muted_until <> 0;
CREATE INDEX subscriptions_remind ON subscriptions(remind_every) WHERE remind_every <> 0;

-- kind: '' for a state change; 'unmuted', 'reminder', 'unstable', 'settled'
-- for the messages built on one (bot.ChangeKind). regions: JSON of
-- []bot.RegionVerdict when the vantage points disagreed, '' otherwise.
CREATE TABLE changes (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        TEXT    NOT NULL DEFAULT '',
    from_state  TEXT    NOT NULL,
    to_state    TEXT    NOT NULL,
    at          BIGINT  NOT NULL,
    began       BIGINT  NOT NULL,
    incident_id BIGINT  REFERENCES incidents(id),
    causes      TEXT    NOT NULL DEFAULT '[]',
    regions     TEXT    NOT NULL DEFAULT '',
    flaps       INTEGER NOT NULL DEFAULT 0,
    flap_since  BIGINT  NOT NULL DEFAULT 0
);
-- Recoveries go to the chats that heard of the incident: found by its changes.
CREATE INDEX changes_incident ON changes(incident_id);

-- One row per (change, chat), written with the change. A row being sent is
-- claimed: claimed_by (a lease holder), the lease epoch it held, and until
-- when; another replica takes it over only once the claim has expired or
-- was made under an older epoch.
CREATE TABLE outbox (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    change_id     BIGINT  NOT NULL REFERENCES changes(id),
    platform      TEXT COLLATE "C" NOT NULL,
    chat_id       TEXT COLLATE "C" NOT NULL,
    lang          TEXT    NOT NULL DEFAULT '',
    status        TEXT    NOT NULL DEFAULT 'pending',
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_at       BIGINT  NOT NULL,
    created_at    BIGINT  NOT NULL,
    finished_at   BIGINT,
    message_id    TEXT    NOT NULL DEFAULT '',
    reason        TEXT    NOT NULL DEFAULT '',
    claimed_by    TEXT    NOT NULL DEFAULT '',
    claim_epoch   BIGINT  NOT NULL DEFAULT 0,
    claimed_until TIMESTAMPTZ,
    UNIQUE (change_id, platform, chat_id)
);
CREATE INDEX outbox_pending ON outbox(platform, chat_id, id) WHERE status = 'pending';
CREATE INDEX outbox_chat ON outbox(platform, chat_id, change_id);
CREATE INDEX outbox_finished ON outbox(finished_at) WHERE status <> 'pending';

-- Time in state: one row per stretch of consecutive rounds in the same
-- announced state ('unknown' while the bot could not tell).
CREATE TABLE spans (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    state   TEXT   NOT NULL,
    from_at BIGINT NOT NULL,
    to_at   BIGINT NOT NULL
);
CREATE INDEX spans_to ON spans(to_at);

-- The latest round of each vantage point (issue 13).
CREATE TABLE region_rounds (
    region  TEXT COLLATE "C" PRIMARY KEY,
    at      BIGINT NOT NULL,
    verdict TEXT   NOT NULL,
    causes  TEXT   NOT NULL DEFAULT '[]'
);

-- The leader lease (issue 13): one row, name 'leader'. epoch grows whenever
-- the holder changes or the lease had expired; leader writes check it.
CREATE TABLE leases (
    name       TEXT        PRIMARY KEY,
    holder     TEXT        NOT NULL,
    epoch      BIGINT      NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
