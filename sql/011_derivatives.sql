-- Derivatives aggregates (issue 15): published per account, ratios and counts only (no amounts), so
-- the gateway may read them at every disclosure level.
--
-- derivative_hours: gross exposure / equity at each published hour's end (leverage).
CREATE TABLE derivative_hours (
  user_uid   text COLLATE "C" NOT NULL,
  exchange   text COLLATE "C" NOT NULL,
  hour_start timestamptz      NOT NULL,
  leverage   double precision NOT NULL CHECK (leverage >= 0 AND leverage < 'Infinity'),
  PRIMARY KEY (user_uid, exchange, hour_start)
);

-- derivative_stats: over the whole record up to computed_until: the highest hourly leverage, the
-- share of derivatives P&L that came from funding (null when that P&L is 0), the number of
-- liquidation and auto-deleveraging fills, and from when the venue served derivatives history.
CREATE TABLE derivative_stats (
  user_uid       text COLLATE "C" NOT NULL,
  exchange       text COLLATE "C" NOT NULL,
  computed_until timestamptz      NOT NULL,
  max_leverage   double precision NOT NULL CHECK (max_leverage >= 0 AND max_leverage < 'Infinity'),
  funding_share  double precision CHECK (funding_share > '-Infinity' AND funding_share < 'Infinity'),
  liquidations   integer          NOT NULL CHECK (liquidations >= 0),
  coverage_start timestamptz,
  PRIMARY KEY (user_uid, exchange)
);

REVOKE ALL ON derivative_hours, derivative_stats FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON derivative_hours, derivative_stats TO enclave_user;
GRANT SELECT ON derivative_hours, derivative_stats TO gateway_user;
