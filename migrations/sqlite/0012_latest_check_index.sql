-- The latest finished check of an INN, found by an index that matches the query
-- (WHERE inn = ? AND state = 'done' ORDER BY checked_at DESC, created_at DESC LIMIT 1):
-- its cost no longer grows with the INN's history.
CREATE INDEX checks_latest ON checks (inn, state, checked_at, created_at);
