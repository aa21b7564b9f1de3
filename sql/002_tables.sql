-- Enclave tables. Money is numeric (exact), times are timestamptz. An account is
-- (user_uid, exchange); every secret table is keyed and deduplicated by it. Key columns use the
-- "C" collation: ids are opaque, and byte comparison makes the dedup index cheaper to maintain.

CREATE TABLE exchange_connections (
  user_uid   text COLLATE "C" NOT NULL,
  exchange   text COLLATE "C" NOT NULL,
  -- Sealed credential (src/crypto): version, key id, IV, tag, ciphertext.
  envelope   bytea       NOT NULL,
  -- Key that sealed the envelope (also in its header); lets rotation find stale rows.
  key_id     smallint    NOT NULL CHECK (key_id BETWEEN 0 AND 255),
  status     text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'failed', 'disabled')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_uid, exchange)
);

-- One row per fill. The primary key is the dedup rule: a page re-fetched after a crash
-- inserts nothing twice. numeric accepts NaN and ±Infinity (NaN sorts above everything), so
-- "< 'Infinity'" keeps amounts finite: money that cannot be read back must not be written.
CREATE TABLE trades (
  user_uid          text COLLATE "C" NOT NULL,
  exchange          text COLLATE "C" NOT NULL,
  exchange_trade_id text COLLATE "C" NOT NULL,
  symbol            text        NOT NULL,
  base_asset        text        NOT NULL,
  quote_asset       text        NOT NULL,
  side              text        NOT NULL CHECK (side IN ('buy', 'sell')),
  quantity          numeric     NOT NULL CHECK (quantity > 0 AND quantity < 'Infinity'),
  price             numeric     NOT NULL CHECK (price >= 0 AND price < 'Infinity'),
  -- Not sign-checked: some venues pay maker rebates as negative fees; refusing them would stall a sync.
  fee               numeric     NOT NULL CHECK (fee > '-Infinity' AND fee < 'Infinity'),
  fee_asset         text        NOT NULL,
  executed_at       timestamptz NOT NULL,
  PRIMARY KEY (user_uid, exchange, exchange_trade_id)
);
-- loadFills: one account, executed_at >= $from, ordered by (executed_at, exchange_trade_id).
CREATE INDEX trades_account_time_idx ON trades (user_uid, exchange, executed_at, exchange_trade_id);

CREATE TABLE cash_flows (
  user_uid         text COLLATE "C" NOT NULL,
  exchange         text COLLATE "C" NOT NULL,
  exchange_flow_id text COLLATE "C" NOT NULL,
  kind             text        NOT NULL CHECK (kind IN ('deposit', 'withdrawal')),
  asset            text        NOT NULL,
  amount           numeric     NOT NULL CHECK (amount > 0 AND amount < 'Infinity'),
  occurred_at      timestamptz NOT NULL,
  PRIMARY KEY (user_uid, exchange, exchange_flow_id)
);
CREATE INDEX cash_flows_account_time_idx ON cash_flows (user_uid, exchange, occurred_at, exchange_flow_id);

-- Resume point per account and stream, written in the same transaction as the rows it covers.
CREATE TABLE sync_cursors (
  user_uid   text COLLATE "C" NOT NULL,
  exchange   text COLLATE "C" NOT NULL,
  stream     text        NOT NULL CHECK (stream IN ('fills', 'cash_flows')),
  cursor     text        NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_uid, exchange, stream)
);

-- Hourly marks: public market data, shared by every account on the venue.
CREATE TABLE price_candles (
  exchange  text COLLATE "C" NOT NULL,
  symbol    text        NOT NULL,
  open_time timestamptz NOT NULL,
  open      numeric     NOT NULL,
  high      numeric     NOT NULL,
  low       numeric     NOT NULL,
  close     numeric     NOT NULL,
  volume    numeric     NOT NULL,
  CHECK (open >= 0 AND high >= 0 AND low >= 0 AND close >= 0 AND volume >= 0),
  CHECK (open < 'Infinity' AND high < 'Infinity' AND low < 'Infinity' AND close < 'Infinity' AND volume < 'Infinity'),
  PRIMARY KEY (exchange, symbol, open_time)
);

-- The aggregation engine's resumable state (positions, cost basis). Derived from fills: enclave-only.
CREATE TABLE engine_states (
  user_uid   text COLLATE "C" NOT NULL,
  exchange   text COLLATE "C" NOT NULL,
  state      jsonb       NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_uid, exchange)
);

-- Published aggregates: the only tables the gateway may read. Domain values are JS numbers,
-- which float8 stores exactly.
CREATE TABLE balance_snapshots (
  user_uid text COLLATE "C" NOT NULL,
  exchange text COLLATE "C" NOT NULL,
  at       timestamptz      NOT NULL,
  balance  double precision NOT NULL,
  equity   double precision NOT NULL,
  PRIMARY KEY (user_uid, exchange, at)
);

CREATE TABLE hourly_returns (
  user_uid          text COLLATE "C" NOT NULL,
  exchange          text COLLATE "C" NOT NULL,
  hour_start        timestamptz      NOT NULL,
  return            double precision NOT NULL,
  cumulative_return double precision NOT NULL,
  equity_end        double precision NOT NULL,
  net_flow          double precision NOT NULL,
  PRIMARY KEY (user_uid, exchange, hour_start)
);
