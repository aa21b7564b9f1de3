-- Scale-out (issue 18): several instances share one PostgreSQL; accounts map to virtual shards
-- (src/domain/shards.ts: FNV-1a of user_uid modulo the shard count) and each shard is leased by one
-- instance at a time. Coordination tables, not account tables: they are never partitioned.

-- Fencing epochs: every claim (and every release) of a shard draws a new one; never reused.
CREATE SEQUENCE placement_epoch_seq AS bigint;

-- One row per shard. A shard is owned while expires_at (database time) is in the future.
-- epoch is UNIQUE on purpose: an UPDATE that changes a column of a unique index takes a FOR UPDATE
-- row lock, which conflicts with the FOR KEY SHARE lock every fenced write transaction holds on its
-- shard's row (src/storage/shard-fence.ts). So a takeover (new epoch) cannot commit while the old
-- owner's write that passed its fence is still open (and SKIP LOCKED makes the claimer pass over
-- such a shard until the next poll), whereas a renewal (only expires_at changes: FOR NO KEY UPDATE)
-- never waits for the owner's own writes.
CREATE TABLE placement (
  shard       integer     PRIMARY KEY CHECK (shard >= 0),
  owner_id    text COLLATE "C",
  owner_addr  text,
  epoch       bigint      NOT NULL UNIQUE DEFAULT nextval('placement_epoch_seq'),
  expires_at  timestamptz NOT NULL DEFAULT '-infinity',
  CHECK ((owner_id IS NULL) = (owner_addr IS NULL))
);
CREATE INDEX placement_owner_idx ON placement (owner_id);

-- Live instances (heartbeat rows): the fair share of shards is the shard count over their number.
CREATE TABLE instances (
  instance_id text COLLATE "C" PRIMARY KEY,
  addr        text        NOT NULL,
  started_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL
);

-- Each account's next scheduled sync, kept so that a shard's new owner keeps the schedule.
ALTER TABLE exchange_connections ADD COLUMN next_sync_at timestamptz;

REVOKE ALL ON placement, instances FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON placement, instances TO enclave_user;
GRANT USAGE ON SEQUENCE placement_epoch_seq TO enclave_user;
