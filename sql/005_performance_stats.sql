-- Performance metrics stored with the aggregates they describe (issue 12: reads need no actor).
-- One row per account: the metrics over the whole record up to computed_until, computed by the
-- engine worker and written in the same transaction (fenced by the connection's generation) as the
-- hourly returns, the snapshot at computed_until and the engine state they come from.
-- Annualized figures may be ±Infinity for a short, extreme history: float8 keeps that (NaN never
-- comes out of the engine and is refused here).
CREATE TABLE performance_stats (
  user_uid                 text COLLATE "C" NOT NULL,
  exchange                 text COLLATE "C" NOT NULL,
  computed_until           timestamptz      NOT NULL,
  hours                    integer          NOT NULL CHECK (hours >= 0),
  cumulative_return        double precision NOT NULL,
  annualized_return        double precision,          -- null below one year (never annualized)
  annualized_volatility    double precision NOT NULL,
  max_drawdown             double precision NOT NULL CHECK (max_drawdown >= 0),
  max_drawdown_peak_hour   timestamptz,
  max_drawdown_trough_hour timestamptz,
  sharpe                   double precision,
  sortino                  double precision,
  calmar                   double precision,
  positive_hour_share      double precision NOT NULL CHECK (positive_hour_share BETWEEN 0 AND 1),
  best_hour                double precision,
  worst_hour               double precision,
  total_fees               double precision NOT NULL,
  realized_pnl             double precision NOT NULL,
  unrealized_pnl           double precision NOT NULL,
  updated_at               timestamptz      NOT NULL DEFAULT now(),
  CHECK ('NaN' NOT IN (cumulative_return, annualized_return, annualized_volatility, max_drawdown, total_fees, realized_pnl, unrealized_pnl)),
  CHECK ('NaN' NOT IN (coalesce(sharpe, 0), coalesce(sortino, 0), coalesce(calmar, 0), coalesce(best_hour, 0), coalesce(worst_hour, 0))),
  PRIMARY KEY (user_uid, exchange)
);

REVOKE ALL ON performance_stats FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON performance_stats TO enclave_user;
-- Not granted to gateway_user: besides figures derived from hourly_returns (which it reads) the
-- row holds total fees and realized/unrealized P&L, exact amounts derived from the fills. The
-- gateway gets the metrics through GetAggregatedMetrics, like before.
