-- The registration process without holes: who an application is assigned to, the
-- agreement signed (JSON: number, date); a catalog entry's name as typed beside the
-- registry's, and the registry's address.
ALTER TABLE applications ADD COLUMN assignee TEXT;
ALTER TABLE applications ADD COLUMN agreement TEXT;
CREATE INDEX applications_assignee ON applications (assignee, created_at);
ALTER TABLE catalog ADD COLUMN display_name TEXT;
ALTER TABLE catalog ADD COLUMN address TEXT;
-- An audit entry's actor is the key (or person) that acted; a name the request gave for
-- whom it acted is kept beside it, never in its place.
ALTER TABLE audit ADD COLUMN on_behalf_of TEXT;
