-- Per-chat settings (issue 12), kept on the subscription so that ending it
-- resets them. level: 'all' or 'outages'; muted_until: Unix ns, 0 when not
-- muted; remind_every: ns, 0 when off. The chat's language is the existing
-- lang column.
ALTER TABLE subscriptions ADD COLUMN level        TEXT    NOT NULL DEFAULT 'all';
ALTER TABLE subscriptions ADD COLUMN muted_until  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN remind_every INTEGER NOT NULL DEFAULT 0;
-- Each round looks for ended mutes and due reminders: only these chats.
CREATE INDEX subscriptions_muted ON subscriptions(muted_until) WHERE muted_until <> 0;
CREATE INDEX subscriptions_remind ON subscriptions(remind_every) WHERE remind_every <> 0;
-- kind: '' for a state change; 'unmuted', 'reminder', 'unstable', 'settled'
-- for the messages built on one (see bot.ChangeKind).
ALTER TABLE changes ADD COLUMN kind TEXT NOT NULL DEFAULT '';
-- Recoveries go to the chats that heard of the incident: found by its changes.
CREATE INDEX changes_incident ON changes(incident_id);
-- Flapping (issue 12): flaps is the number of changes an 'unstable' or
-- 'settled' message counts, flap_since when that period began; the state row keeps the unstable period going
-- on (flap_since 0: X is stable) and the change that announced it.
ALTER TABLE changes ADD COLUMN flaps INTEGER NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN flap_since INTEGER NOT NULL DEFAULT 0;
ALTER TABLE state ADD COLUMN flap_since   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE state ADD COLUMN flap_changes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE state ADD COLUMN flap_worst   TEXT    NOT NULL DEFAULT '';
ALTER TABLE state ADD COLUMN flap_change  INTEGER NOT NULL DEFAULT 0;
