-- Who subscribed each chat (the platform's user id), so that subscriptions
-- per person can be capped; '' for chats subscribed before it was recorded.
ALTER TABLE subscriptions ADD COLUMN subscribed_by TEXT NOT NULL DEFAULT '';
CREATE INDEX subscriptions_by ON subscriptions(platform, subscribed_by);
