-- Privileges are per database (roles are not): grant here, on this database's objects only.
REVOKE ALL ON exchange_connections, trades, cash_flows, sync_cursors, price_candles, engine_states,
  balance_snapshots, hourly_returns FROM PUBLIC;

DO $$
BEGIN
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO enclave_user, gateway_user', current_database());
END
$$;

GRANT USAGE ON SCHEMA public TO enclave_user, gateway_user;

-- The service: read and write everything it owns (no DDL; migrations run as the owner).
GRANT SELECT, INSERT, UPDATE, DELETE ON exchange_connections, trades, cash_flows, sync_cursors,
  price_candles, engine_states, balance_snapshots, hourly_returns TO enclave_user;

-- The untrusted gateway: the two aggregate tables, read-only. Nothing else.
GRANT SELECT ON balance_snapshots, hourly_returns TO gateway_user;
