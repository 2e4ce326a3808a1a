-- Each event carries the contractor's name and external ids as they were when it happened,
-- so a CRM acting on an event needs no lookup.
ALTER TABLE events ADD COLUMN subject TEXT;  -- JSON {"name", "external_ids"}
