-- OPTIONAL, not a numbered migration (the runner never applies it): the single-server step of
-- "schema ready to shard" (issue 18). Turns every account table into a table hash-partitioned by
-- user_uid, keeping columns, defaults, checks, keys, indexes and grants. Every primary key and
-- unique constraint of an account table includes user_uid and no foreign key joins tables
-- (test/storage/shard-ready-schema.test.ts keeps it so), which is what PostgreSQL's partitioning and
-- Citus' distribution by user_uid require.
--
-- Run as the database owner, with the service stopped (it rewrites every account table in one
-- transaction, holding ACCESS EXCLUSIVE locks), after every numbered migration:
--   psql "$DATABASE_URL" -v partitions=16 -f sql/optional/hash-partition-by-user-uid.sql
-- Later numbered migrations still apply (ALTER TABLE on a partitioned table reaches every partition).
\set ON_ERROR_STOP on
BEGIN;

CREATE FUNCTION pg_temp.partition_by_user_uid(tbl text, parts integer) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  old text := tbl || '_unpartitioned';
  grant_row record;
BEGIN
  IF EXISTS (SELECT 1 FROM pg_class WHERE relname = tbl AND relkind = 'p' AND relnamespace = 'public'::regnamespace) THEN
    RAISE NOTICE '% is already partitioned', tbl;
    RETURN;
  END IF;
  EXECUTE format('ALTER TABLE public.%I RENAME TO %I', tbl, old);
  EXECUTE format('CREATE TABLE public.%I (LIKE public.%I INCLUDING ALL) PARTITION BY HASH (user_uid)', tbl, old);
  FOR i IN 0 .. parts - 1 LOOP
    EXECUTE format('CREATE TABLE public.%I PARTITION OF public.%I FOR VALUES WITH (MODULUS %s, REMAINDER %s)', tbl || '_p' || i, tbl, parts, i);
  END LOOP;
  EXECUTE format('INSERT INTO public.%I SELECT * FROM public.%I', tbl, old);
  -- The same privileges as before (enclave_user, gateway_user), on the parent: queries go through it.
  EXECUTE format('REVOKE ALL ON public.%I FROM PUBLIC', tbl);
  FOR grant_row IN
    SELECT grantee, string_agg(privilege_type, ', ') AS privileges
    FROM information_schema.role_table_grants
    WHERE table_schema = 'public' AND table_name = old AND grantee <> current_user
    GROUP BY grantee
  LOOP
    EXECUTE format('GRANT %s ON public.%I TO %I', grant_row.privileges, tbl, grant_row.grantee);
  END LOOP;
  EXECUTE format('DROP TABLE public.%I', old);
END
$fn$;

SELECT pg_temp.partition_by_user_uid(t, :partitions)
FROM unnest(ARRAY[
  'exchange_connections', 'trades', 'cash_flows', 'sync_cursors', 'engine_states', 'balance_snapshots',
  'hourly_returns', 'performance_stats', 'account_reconciliations'
]) AS t
WHERE to_regclass('public.' || t) IS NOT NULL;

-- Triggers do not come along with LIKE … INCLUDING ALL: the flag-count triggers of sql/017 go on
-- the partitioned hourly_returns (statement-level, with transition tables: allowed on the parent).
DO $tr$
BEGIN
  IF to_regprocedure('public.hour_flag_counts_inserted()') IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'public.hourly_returns'::regclass AND tgname = 'hour_flag_counts_insert') THEN
    CREATE TRIGGER hour_flag_counts_insert AFTER INSERT ON public.hourly_returns
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.hour_flag_counts_inserted();
    CREATE TRIGGER hour_flag_counts_update AFTER UPDATE ON public.hourly_returns
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.hour_flag_counts_updated();
    CREATE TRIGGER hour_flag_counts_delete AFTER DELETE ON public.hourly_returns
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.hour_flag_counts_deleted();
  END IF;
END
$tr$;
-- LIKE does not copy triggers: the one that sets each connection's shard (sql/018) goes on the
-- partitioned table again (row-level BEFORE triggers on partitioned tables: PostgreSQL 13+).
DROP TRIGGER IF EXISTS exchange_connections_shard ON exchange_connections;
CREATE TRIGGER exchange_connections_shard BEFORE INSERT OR UPDATE OF user_uid ON exchange_connections
  FOR EACH ROW EXECUTE FUNCTION exchange_connections_set_shard();

COMMIT;
