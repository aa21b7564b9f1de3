-- Issue 18: each connection's shard stored beside it, so a new shard owner restores the schedules
-- of the accounts of the shards it claimed by reading only those rows (an index on the shard),
-- instead of listing every connection and hashing user_uid in the process.
--
-- shard_of is src/domain/shards.ts's shardOf in SQL: FNV-1a (32 bit) of the UTF-8 bytes of
-- user_uid, modulo the shard count (test/storage/connection-shard.test.ts compares them).
CREATE FUNCTION shard_of(user_uid text, shard_count integer) RETURNS integer
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  bytes bytea := convert_to(user_uid, 'UTF8');
  hash bigint := 2166136261;
BEGIN
  FOR i IN 0 .. length(bytes) - 1 LOOP
    -- Below 2^32 times a 25-bit prime: fits a bigint before the modulo.
    hash := ((hash # get_byte(bytes, i)) * 16777619) % 4294967296;
  END LOOP;
  RETURN (hash % shard_count)::integer;
END
$$;

ALTER TABLE exchange_connections ADD COLUMN shard integer;

-- The count is the database's (placement has one row per shard, filled at the first start). Before
-- that the shard stays NULL; the first start fills it in (src/storage/placement.ts ensureShards).
CREATE FUNCTION exchange_connections_set_shard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.shard := shard_of(NEW.user_uid, (SELECT max(shard) + 1 FROM placement));
  RETURN NEW;
END
$$;

CREATE TRIGGER exchange_connections_shard BEFORE INSERT OR UPDATE OF user_uid ON exchange_connections
  FOR EACH ROW EXECUTE FUNCTION exchange_connections_set_shard();

UPDATE exchange_connections SET shard = shard_of(user_uid, (SELECT max(shard) + 1 FROM placement));

CREATE INDEX exchange_connections_by_shard ON exchange_connections (shard);
