-- Fencing and parking (issue 12).
-- generation: every register and every remove moves it on; an actor remembers the generation it
-- loaded and every write transaction of its sync checks it (FOR SHARE) inside the transaction, so a
-- sync that outlived a removal or a re-registration rolls back instead of writing. Drawn from one
-- sequence, never reset: a connection removed and registered again never reuses an old value.
CREATE SEQUENCE connection_generation_seq AS bigint;
ALTER TABLE exchange_connections
  ADD COLUMN generation bigint NOT NULL DEFAULT nextval('connection_generation_seq');
-- parked_reason: why a failed account is parked, a fixed class (never a message).
ALTER TABLE exchange_connections
  ADD COLUMN parked_reason text CHECK (parked_reason IN ('venue_auth', 'venue_unavailable', 'internal', 'tamper')),
  ADD CONSTRAINT exchange_connections_parked_reason_only_when_failed CHECK (parked_reason IS NULL OR status = 'failed');
GRANT USAGE ON SEQUENCE connection_generation_seq TO enclave_user;
