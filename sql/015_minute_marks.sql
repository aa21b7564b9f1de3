-- Issue 17: one-minute marks for true time-weighted returns. A flow larger than LARGE_FLOW_SHARE of
-- equity splits its hour and the portfolio is valued at the open of the flow's minute; deposits and
-- withdrawals in kind are valued at their own minute. Public market data like price_candles: keyed by
-- venue, market and minute, shared by every account on the venue, fetched once. A row with no prices
-- records that the venue had no bar for that minute (asked once, not again); the hour mark then
-- stands in and the hour is flagged estimated-mark (src/domain/engine.ts).
CREATE TABLE minute_marks (
  exchange   text COLLATE "C" NOT NULL,
  symbol     text        NOT NULL,
  minute     timestamptz NOT NULL CHECK (date_trunc('minute', minute) = minute),
  open       numeric,
  high       numeric,
  low        numeric,
  close      numeric,
  volume     numeric,
  fetched_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((open IS NULL) = (close IS NULL) AND (open IS NULL) = (high IS NULL) AND (open IS NULL) = (low IS NULL) AND (open IS NULL) = (volume IS NULL)),
  CHECK (open >= 0 AND high >= 0 AND low >= 0 AND close >= 0 AND volume >= 0),
  CHECK (open < 'Infinity' AND high < 'Infinity' AND low < 'Infinity' AND close < 'Infinity' AND volume < 'Infinity'),
  PRIMARY KEY (exchange, symbol, minute)
);
REVOKE ALL ON minute_marks FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON minute_marks TO enclave_user;
