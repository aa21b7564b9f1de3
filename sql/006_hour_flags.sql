-- Issue 17: every published hour carries its data-quality flags, as a bit mask in the order of
-- HOUR_FLAGS (src/domain/hour-flags.ts): 1 estimated-mark, 2 stale-mark, 4 missing-mark,
-- 8 unexplained-adjustment, 16 oversold, 32 revalued-at-flow, 64 venue-history-cut, 128 unvalued.
-- An unvalued hour is a row with return 0 and the cumulative return carried (it used to be absent).
-- gateway_user's SELECT on hourly_returns covers the new column.
ALTER TABLE hourly_returns ADD COLUMN flags integer NOT NULL DEFAULT 0 CHECK (flags >= 0 AND flags < 65536);
