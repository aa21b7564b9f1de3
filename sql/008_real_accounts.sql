-- Real accounts (issue 16). The merger renumbers this file if 010 is taken.
-- cash_flows carries every non-trade event (src/domain/events.ts states how each counts):
-- income and expense (dividends, interest, taxes, fees, rewards), split-in/out (corporate
-- actions), adjustment-in/out (reconciliation differences, always flagged).
ALTER TABLE cash_flows DROP CONSTRAINT cash_flows_kind_check;
ALTER TABLE cash_flows ADD CONSTRAINT cash_flows_kind_check
  CHECK (kind IN ('deposit', 'withdrawal', 'income', 'expense', 'split-in', 'split-out', 'adjustment-in', 'adjustment-out'));

-- The latest reconciliation per account: published (no amounts, no assets). explained_share is the
-- share of the venue-reported equity that recorded events explain; status 'unreconciled' marks an
-- account whose rebuilt holdings disagree with the venue's balances; coverage_start says, per
-- stream, from when the venue served history (null: from the account's opening).
CREATE TABLE account_reconciliations (
  user_uid          text COLLATE "C" NOT NULL,
  exchange          text COLLATE "C" NOT NULL,
  at                timestamptz      NOT NULL,
  status            text             NOT NULL CHECK (status IN ('reconciled', 'unreconciled')),
  explained_share   double precision NOT NULL CHECK (explained_share >= 0 AND explained_share <= 1),
  differing_assets  integer          NOT NULL CHECK (differing_assets >= 0),
  quarantined       integer          NOT NULL CHECK (quarantined >= 0),
  fills_coverage_start      timestamptz,
  cash_flows_coverage_start timestamptz,
  PRIMARY KEY (user_uid, exchange)
);
REVOKE ALL ON account_reconciliations FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON account_reconciliations TO enclave_user;
GRANT SELECT ON account_reconciliations TO gateway_user;
