-- Public market data is stored once per venue and market (issue 19): one row per series (venue,
-- market, kind, resolution) records which stretches of time have been fetched from the venue and
-- stored, so a sync fetches only the missing ranges and never rewrites a stored row. `covered` is a
-- multirange of epoch milliseconds, half-open [from, to). Series rows themselves live in their
-- kind's table (hourly candles: price_candles), inserted with ON CONFLICT DO NOTHING.
CREATE TABLE market_series_coverage (
  venue         text COLLATE "C" NOT NULL,
  market        text COLLATE "C" NOT NULL,
  kind          text COLLATE "C" NOT NULL,
  resolution_ms bigint           NOT NULL CHECK (resolution_ms > 0),
  covered       int8multirange   NOT NULL,
  updated_at    timestamptz      NOT NULL DEFAULT now(),
  PRIMARY KEY (venue, market, kind, resolution_ms)
);
-- Not secret, but only the service needs it.
REVOKE ALL ON market_series_coverage FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON market_series_coverage TO enclave_user;
