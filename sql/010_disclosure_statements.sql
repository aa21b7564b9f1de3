-- Disclosure levels and signed track-record statements (issue 14, parts 2 and 3).
--
-- Each account publishes at its disclosure level: 'returns' (the default: hourly return, cumulative
-- return and flags; no amounts), 'equity' (adds the equity rounded to two significant figures, at
-- daily resolution: the last hour of each UTC day; no flows, no balances) or 'full' (exact equity,
-- flows and balances). The published tables gateway_user reads never hold what the level withholds:
-- the columns are nullable and written null (or rounded) at write time, and rewritten when the
-- level changes. The exact figures the enclave needs for its own replies live in two private
-- tables only enclave_user reads (hourly_amounts, snapshot_amounts).
ALTER TABLE exchange_connections
  ADD COLUMN disclosure_level text NOT NULL DEFAULT 'returns' CHECK (disclosure_level IN ('returns', 'equity', 'full'));

ALTER TABLE hourly_returns ALTER COLUMN equity_end DROP NOT NULL, ALTER COLUMN net_flow DROP NOT NULL;
ALTER TABLE balance_snapshots ALTER COLUMN balance DROP NOT NULL, ALTER COLUMN equity DROP NOT NULL;

CREATE TABLE hourly_amounts (
  user_uid   text COLLATE "C" NOT NULL,
  exchange   text COLLATE "C" NOT NULL,
  hour_start timestamptz      NOT NULL,
  equity_end double precision NOT NULL,
  net_flow   double precision NOT NULL,
  PRIMARY KEY (user_uid, exchange, hour_start)
);
CREATE TABLE snapshot_amounts (
  user_uid text COLLATE "C" NOT NULL,
  exchange text COLLATE "C" NOT NULL,
  at       timestamptz      NOT NULL,
  balance  double precision NOT NULL,
  equity   double precision NOT NULL,
  PRIMARY KEY (user_uid, exchange, at)
);
REVOKE ALL ON hourly_amounts, snapshot_amounts FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON hourly_amounts, snapshot_amounts TO enclave_user;

-- Existing rows: the exact figures move to the private tables, and every account (at the default
-- level) publishes no amounts any more.
INSERT INTO hourly_amounts (user_uid, exchange, hour_start, equity_end, net_flow)
  SELECT user_uid, exchange, hour_start, equity_end, net_flow FROM hourly_returns;
INSERT INTO snapshot_amounts (user_uid, exchange, at, balance, equity)
  SELECT user_uid, exchange, at, balance, equity FROM balance_snapshots;
UPDATE hourly_returns SET equity_end = NULL, net_flow = NULL;
UPDATE balance_snapshots SET balance = NULL, equity = NULL;

-- Signed checkpoints of each account's hash chain over its published hours (hour, return, flags),
-- one per aggregate write that published hours (docs/statements.md has the byte layout). Public by
-- design: a head is a hash of what hourly_returns already shows, and anyone holding a statement
-- can check that the published series still hashes to it.
CREATE TABLE statement_checkpoints (
  user_uid     text COLLATE "C" NOT NULL,
  exchange     text COLLATE "C" NOT NULL,
  seq          bigint           NOT NULL CHECK (seq >= 1),
  account      text             NOT NULL,
  hours        integer          NOT NULL CHECK (hours >= 1),
  last_hour    timestamptz      NOT NULL,
  head         bytea            NOT NULL CHECK (length(head) = 32),
  signed_at    timestamptz      NOT NULL,
  public_key   bytea            NOT NULL CHECK (length(public_key) = 32),
  signature    bytea            NOT NULL CHECK (length(signature) = 64),
  PRIMARY KEY (user_uid, exchange, seq)
);
REVOKE ALL ON statement_checkpoints FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON statement_checkpoints TO enclave_user;
GRANT SELECT ON statement_checkpoints TO gateway_user;
