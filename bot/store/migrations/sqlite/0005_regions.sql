-- Vantage points (issue 13): the latest round of each region (at: Unix ns on
-- the recording replica's clock; causes: JSON of the failing targets), and on
-- each change what the regions saw when they disagreed (JSON of
-- [{"region":…,"verdict":…}]; '' when they agreed or there was one region).
CREATE TABLE region_rounds (
    region  TEXT    PRIMARY KEY,
    at      INTEGER NOT NULL,
    verdict TEXT    NOT NULL,
    causes  TEXT    NOT NULL DEFAULT '[]'
);
ALTER TABLE changes ADD COLUMN regions TEXT NOT NULL DEFAULT '';
