-- Scale-out (issue 18): every lease round renews each held shard's row (only expires_at changes),
-- every TTL/3 on every instance: 1,024 row versions per round. On full pages (the default
-- fillfactor 100) a new version goes to another page, with new entries in all three indexes, and
-- the old one waits for VACUUM (17,000-29,000 dead tuples for 1,024 live rows after a bench run).
-- With room left on every page, the new version stays on its page: a HOT update (no index entry;
-- the old version is pruned when the page is next visited, without VACUUM). expires_at is not
-- indexed, and must stay so: an indexed column changed by the renewal makes it non-HOT again.
-- The table stays small: one row per shard, 1,024 rows in about 130 pages (1 MB) at this fillfactor.
ALTER TABLE placement SET (fillfactor = 10);
-- Rows stored before this file get the room when the table is rewritten (a table name makes
-- CLUSTER allowed inside the migration's transaction; a fresh database has no rows yet).
CLUSTER placement USING placement_pkey;
