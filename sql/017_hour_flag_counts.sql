-- Issue 19: the share of flagged hours in every metrics read came from an aggregate over all of an
-- account's published hours (3.9 ms of database CPU per read for a year of hours). The counts are
-- now kept per account in hour_flag_counts, moved by statement-level triggers on hourly_returns
-- from the rows each statement inserts, updates or deletes (its transition tables), so they stay
-- exact whoever writes the hours (a sync, a disclosure rewrite, a removal) and a read is one row.
--   hours     published hours (unvalued ones included)
--   flagged   hours with any flag
--   per_bit   hours carrying bit b of hourly_returns.flags (sql/006, HOUR_FLAGS order), b = 0 … 15
-- A table of its own, not columns of performance_stats: hours are written before (and without) a
-- metrics row in the same transaction, and a trigger must not create a partial metrics row.
-- sql/optional/hash-partition-by-user-uid.sql re-creates the triggers on the partitioned table.
CREATE TABLE hour_flag_counts (
  user_uid text COLLATE "C" NOT NULL,
  exchange text COLLATE "C" NOT NULL,
  hours    integer   NOT NULL,
  flagged  integer   NOT NULL,
  per_bit  integer[] NOT NULL CHECK (cardinality(per_bit) = 16),
  PRIMARY KEY (user_uid, exchange)
);
REVOKE ALL ON hour_flag_counts FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON hour_flag_counts TO enclave_user;

-- One function per event: a trigger sees only its own transition tables.
CREATE FUNCTION hour_flag_counts_inserted() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM new_rows) THEN RETURN NULL; END IF;
  -- s = +1 for a row arriving, -1 for a row leaving.
  WITH delta AS (
    SELECT user_uid, exchange, flags, 1 AS s FROM new_rows
  ), per_mask AS (
    -- Grouped by mask first: the sixteen bit tests then run over a few groups, not every hour.
    SELECT user_uid, exchange, flags, sum(s) AS s FROM delta GROUP BY user_uid, exchange, flags
  ), sums AS (
    SELECT user_uid, exchange, sum(s)::int AS hours, coalesce(sum(s) FILTER (WHERE flags <> 0), 0)::int AS flagged, ARRAY[
      coalesce(sum(s) FILTER (WHERE flags & 1 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 2 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 4 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 8 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 16 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 32 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 64 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 128 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 256 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 512 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 1024 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 2048 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 4096 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 8192 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 16384 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 32768 <> 0), 0)::int
    ] AS per_bit
    FROM per_mask GROUP BY user_uid, exchange
  )
  INSERT INTO hour_flag_counts AS c (user_uid, exchange, hours, flagged, per_bit)
  SELECT user_uid, exchange, hours, flagged, per_bit FROM sums
  -- An update that changed no flag (a disclosure rewrite of amounts, a recomputed hour) moves nothing.
  WHERE hours <> 0 OR flagged <> 0 OR per_bit <> array_fill(0, ARRAY[16])
  ON CONFLICT (user_uid, exchange) DO UPDATE SET
    hours = c.hours + excluded.hours, flagged = c.flagged + excluded.flagged,
    per_bit = ARRAY(SELECT x + y FROM unnest(c.per_bit, excluded.per_bit) WITH ORDINALITY AS u(x, y, i) ORDER BY i);
  RETURN NULL;
END
$fn$;

CREATE FUNCTION hour_flag_counts_updated() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  -- An INSERT … ON CONFLICT that only inserted fires this with no rows: nothing to move.
  IF NOT EXISTS (SELECT 1 FROM new_rows) THEN RETURN NULL; END IF;
  -- s = +1 for a row arriving, -1 for a row leaving.
  WITH delta AS (
    SELECT user_uid, exchange, flags, 1 AS s FROM new_rows
    UNION ALL SELECT user_uid, exchange, flags, -1 FROM old_rows
  ), per_mask AS (
    -- Grouped by mask first: the sixteen bit tests then run over a few groups, not every hour.
    SELECT user_uid, exchange, flags, sum(s) AS s FROM delta GROUP BY user_uid, exchange, flags
  ), sums AS (
    SELECT user_uid, exchange, sum(s)::int AS hours, coalesce(sum(s) FILTER (WHERE flags <> 0), 0)::int AS flagged, ARRAY[
      coalesce(sum(s) FILTER (WHERE flags & 1 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 2 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 4 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 8 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 16 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 32 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 64 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 128 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 256 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 512 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 1024 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 2048 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 4096 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 8192 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 16384 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 32768 <> 0), 0)::int
    ] AS per_bit
    FROM per_mask GROUP BY user_uid, exchange
  )
  INSERT INTO hour_flag_counts AS c (user_uid, exchange, hours, flagged, per_bit)
  SELECT user_uid, exchange, hours, flagged, per_bit FROM sums
  -- An update that changed no flag (a disclosure rewrite of amounts, a recomputed hour) moves nothing.
  WHERE hours <> 0 OR flagged <> 0 OR per_bit <> array_fill(0, ARRAY[16])
  ON CONFLICT (user_uid, exchange) DO UPDATE SET
    hours = c.hours + excluded.hours, flagged = c.flagged + excluded.flagged,
    per_bit = ARRAY(SELECT x + y FROM unnest(c.per_bit, excluded.per_bit) WITH ORDINALITY AS u(x, y, i) ORDER BY i);
  RETURN NULL;
END
$fn$;

CREATE FUNCTION hour_flag_counts_deleted() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM old_rows) THEN RETURN NULL; END IF;
  -- s = +1 for a row arriving, -1 for a row leaving.
  WITH delta AS (
    SELECT user_uid, exchange, flags, -1 AS s FROM old_rows
  ), per_mask AS (
    -- Grouped by mask first: the sixteen bit tests then run over a few groups, not every hour.
    SELECT user_uid, exchange, flags, sum(s) AS s FROM delta GROUP BY user_uid, exchange, flags
  ), sums AS (
    SELECT user_uid, exchange, sum(s)::int AS hours, coalesce(sum(s) FILTER (WHERE flags <> 0), 0)::int AS flagged, ARRAY[
      coalesce(sum(s) FILTER (WHERE flags & 1 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 2 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 4 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 8 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 16 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 32 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 64 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 128 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 256 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 512 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 1024 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 2048 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 4096 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 8192 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 16384 <> 0), 0)::int,
      coalesce(sum(s) FILTER (WHERE flags & 32768 <> 0), 0)::int
    ] AS per_bit
    FROM per_mask GROUP BY user_uid, exchange
  )
  INSERT INTO hour_flag_counts AS c (user_uid, exchange, hours, flagged, per_bit)
  SELECT user_uid, exchange, hours, flagged, per_bit FROM sums
  -- An update that changed no flag (a disclosure rewrite of amounts, a recomputed hour) moves nothing.
  WHERE hours <> 0 OR flagged <> 0 OR per_bit <> array_fill(0, ARRAY[16])
  ON CONFLICT (user_uid, exchange) DO UPDATE SET
    hours = c.hours + excluded.hours, flagged = c.flagged + excluded.flagged,
    per_bit = ARRAY(SELECT x + y FROM unnest(c.per_bit, excluded.per_bit) WITH ORDINALITY AS u(x, y, i) ORDER BY i);
  RETURN NULL;
END
$fn$;

CREATE TRIGGER hour_flag_counts_insert AFTER INSERT ON hourly_returns
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hour_flag_counts_inserted();
CREATE TRIGGER hour_flag_counts_update AFTER UPDATE ON hourly_returns
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hour_flag_counts_updated();
CREATE TRIGGER hour_flag_counts_delete AFTER DELETE ON hourly_returns
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION hour_flag_counts_deleted();

-- The hours already published.
INSERT INTO hour_flag_counts (user_uid, exchange, hours, flagged, per_bit)
SELECT user_uid, exchange, count(*)::int, count(*) FILTER (WHERE flags <> 0)::int, ARRAY[
  count(*) FILTER (WHERE flags & 1 <> 0)::int,
  count(*) FILTER (WHERE flags & 2 <> 0)::int,
  count(*) FILTER (WHERE flags & 4 <> 0)::int,
  count(*) FILTER (WHERE flags & 8 <> 0)::int,
  count(*) FILTER (WHERE flags & 16 <> 0)::int,
  count(*) FILTER (WHERE flags & 32 <> 0)::int,
  count(*) FILTER (WHERE flags & 64 <> 0)::int,
  count(*) FILTER (WHERE flags & 128 <> 0)::int,
  count(*) FILTER (WHERE flags & 256 <> 0)::int,
  count(*) FILTER (WHERE flags & 512 <> 0)::int,
  count(*) FILTER (WHERE flags & 1024 <> 0)::int,
  count(*) FILTER (WHERE flags & 2048 <> 0)::int,
  count(*) FILTER (WHERE flags & 4096 <> 0)::int,
  count(*) FILTER (WHERE flags & 8192 <> 0)::int,
  count(*) FILTER (WHERE flags & 16384 <> 0)::int,
  count(*) FILTER (WHERE flags & 32768 <> 0)::int
]
FROM hourly_returns GROUP BY user_uid, exchange;
