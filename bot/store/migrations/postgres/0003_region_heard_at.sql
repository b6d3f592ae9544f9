-- When each region's latest round was recorded, on the database's clock:
-- freshness is judged on it, never on the replicas' own clocks.
ALTER TABLE region_rounds ADD COLUMN heard_at TIMESTAMPTZ NOT NULL DEFAULT now();
