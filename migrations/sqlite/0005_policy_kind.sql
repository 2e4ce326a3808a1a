-- Stored policy versions say which policy file they are of, so the scoring ruleset's
-- history does not list monitoring policies. Earlier rows are told apart by the path
-- they were loaded from (the monitoring policy's default is rules/monitoring.toml).
ALTER TABLE rulesets ADD COLUMN kind TEXT NOT NULL DEFAULT 'scoring';
UPDATE rulesets SET kind = 'monitoring' WHERE path LIKE '%monitoring%';
