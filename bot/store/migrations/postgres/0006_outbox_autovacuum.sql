-- The outbox changes by fan-outs of 90,000 rows, each then updated once
-- (sent): at the default scale factors (20% for VACUUM, 10% for ANALYZE of
-- millions of rows kept) several fan-outs passed before the statistics saw
-- them, and dead entries piled up in the partial indexes the dispatcher
-- walks. At 1% each fan-out is analysed and its dead rows are vacuumed soon.
ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.01);
