-- Exact amounts sealed at rest (issue 14; docs/sealed-storage.md "Exact amounts"). hourly_amounts
-- and snapshot_amounts (sql/010) held each account's exact equity, flows and balances in clear.
-- From now on each row is one AES-256-GCM box (AAD = account, table and the row's time), and a
-- sealed 'amounts' record per account carries the row counts and a keyed sum over the rows' tags
-- (a row deleted, replayed from an older write or inserted fails the check). The database cannot
-- derive keys: the plaintext columns stay nullable for rows not yet converted, which the service
-- seals at the account's first load and clears in the same transaction (like migration 009).
ALTER TABLE hourly_amounts
  ALTER COLUMN equity_end DROP NOT NULL, ALTER COLUMN net_flow DROP NOT NULL,
  ADD COLUMN key_id smallint CHECK (key_id BETWEEN 0 AND 255),
  ADD COLUMN iv bytea CHECK (length(iv) = 12),
  ADD COLUMN tag bytea CHECK (length(tag) = 16),
  ADD COLUMN ciphertext bytea,
  -- Either plaintext (not yet converted, or the plaintext layout of tests and tools) or sealed, never both.
  ADD CONSTRAINT hourly_amounts_plain_or_sealed CHECK (
    (ciphertext IS NULL AND key_id IS NULL AND iv IS NULL AND tag IS NULL AND equity_end IS NOT NULL AND net_flow IS NOT NULL)
    OR (ciphertext IS NOT NULL AND key_id IS NOT NULL AND iv IS NOT NULL AND tag IS NOT NULL AND equity_end IS NULL AND net_flow IS NULL));

ALTER TABLE snapshot_amounts
  ALTER COLUMN balance DROP NOT NULL, ALTER COLUMN equity DROP NOT NULL,
  ADD COLUMN key_id smallint CHECK (key_id BETWEEN 0 AND 255),
  ADD COLUMN iv bytea CHECK (length(iv) = 12),
  ADD COLUMN tag bytea CHECK (length(tag) = 16),
  ADD COLUMN ciphertext bytea,
  ADD CONSTRAINT snapshot_amounts_plain_or_sealed CHECK (
    (ciphertext IS NULL AND key_id IS NULL AND iv IS NULL AND tag IS NULL AND balance IS NOT NULL AND equity IS NOT NULL)
    OR (ciphertext IS NOT NULL AND key_id IS NOT NULL AND iv IS NOT NULL AND tag IS NOT NULL AND balance IS NULL AND equity IS NULL));

-- The per-account record of the sealed amounts.
ALTER TABLE sealed_records DROP CONSTRAINT sealed_records_kind_check;
ALTER TABLE sealed_records ADD CONSTRAINT sealed_records_kind_check CHECK (kind IN ('account', 'engine', 'amounts'));

-- Key hand-over of the track-record chain (docs/statements.md "Key rotation"): after a rotation of
-- the statement-signing key, the previous key signs a hand-over row naming the next key; the chain
-- then continues under it. Null on ordinary checkpoints.
ALTER TABLE statement_checkpoints ADD COLUMN next_public_key bytea CHECK (length(next_public_key) = 32);
