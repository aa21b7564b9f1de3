-- The account holder's opt-in to a trading-capable key (issue 13, item 7): only venues that issue
-- no read-only keys (Alpaca) accept it, never with withdrawal or transfer rights. Stored with the
-- connection so a later permission re-check applies the same choice; replaced at every register.
ALTER TABLE exchange_connections
  ADD COLUMN accept_trading_key_risk boolean NOT NULL DEFAULT false;
