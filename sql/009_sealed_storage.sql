-- Sealed storage (issue 14 part 1; docs/sealed-storage.md). The database cannot derive account
-- keys, so this migration only creates the sealed tables: the service seals an account's legacy
-- plaintext rows (trades, cash_flows, sync_cursors, engine_states) at its next load and deletes
-- them in the same transaction. The legacy tables stay, empty, for accounts not yet loaded.

-- New fills and cash flows, one AES-256-GCM box per committed page. AAD = (version, key id,
-- user_uid, exchange, stream, seq): a page moved to another account, stream or position fails
-- to open. seq counts 0, 1, 2 … per (account, stream); the chain over the pages' tags and their
-- count are sealed in the account's record (sealed_records kind 'account').
CREATE TABLE sealed_pages (
  user_uid   text COLLATE "C" NOT NULL,
  exchange   text COLLATE "C" NOT NULL,
  stream     text COLLATE "C" NOT NULL CHECK (stream IN ('fills', 'cash_flows')),
  seq        integer     NOT NULL CHECK (seq >= 0),
  key_id     smallint    NOT NULL CHECK (key_id BETWEEN 0 AND 255),
  iv         bytea       NOT NULL CHECK (length(iv) = 12),
  tag        bytea       NOT NULL CHECK (length(tag) = 16),
  ciphertext bytea       NOT NULL,
  PRIMARY KEY (user_uid, exchange, stream, seq)
);
-- Ciphertext does not compress: store it out of line without trying (saves pglz CPU on ingest).
ALTER TABLE sealed_pages ALTER COLUMN ciphertext SET STORAGE EXTERNAL;

-- Dedup without plaintext ids: HMAC-SHA-256 of the venue id under a per-account key, truncated
-- to 128 bits.
CREATE TABLE sealed_index (
  user_uid    text COLLATE "C" NOT NULL,
  exchange    text COLLATE "C" NOT NULL,
  stream      text COLLATE "C" NOT NULL CHECK (stream IN ('fills', 'cash_flows')),
  blind_index bytea       NOT NULL CHECK (length(blind_index) = 16),
  PRIMARY KEY (user_uid, exchange, stream, blind_index)
);

-- Per-account sealed records: 'account' (cursors, page counts, chain heads, row counts, the
-- engine record's tag, a write counter) and 'engine' (the engine's resumable state).
CREATE TABLE sealed_records (
  user_uid   text COLLATE "C" NOT NULL,
  exchange   text COLLATE "C" NOT NULL,
  kind       text COLLATE "C" NOT NULL CHECK (kind IN ('account', 'engine')),
  key_id     smallint    NOT NULL CHECK (key_id BETWEEN 0 AND 255),
  iv         bytea       NOT NULL CHECK (length(iv) = 12),
  tag        bytea       NOT NULL CHECK (length(tag) = 16),
  ciphertext bytea       NOT NULL,
  PRIMARY KEY (user_uid, exchange, kind)
);

REVOKE ALL ON sealed_pages, sealed_index, sealed_records FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON sealed_pages, sealed_index, sealed_records TO enclave_user;
