-- What a plain dump held once decompressed: its size (size trends compare
-- these, so a change of compression alone is no shrink) and the databases it
-- switched to (`\connect`, `USE`), as a JSON array.
ALTER TABLE runs ADD COLUMN dump_uncompressed_size INTEGER;
ALTER TABLE runs ADD COLUMN dump_databases TEXT;
