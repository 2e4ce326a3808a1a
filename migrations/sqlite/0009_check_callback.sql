-- A check keeps the callback_url it was asked with, so a check that fails — or is left
-- behind by a stopped process — still tells its caller.
ALTER TABLE checks ADD COLUMN callback_url TEXT;
