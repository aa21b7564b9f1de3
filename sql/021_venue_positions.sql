-- Positions from the venue (issue 15): at each sync the venue's position snapshot is compared with
-- the book rebuilt from contract executions. differing_positions counts the contracts whose sizes
-- differ beyond tolerance (a count: no contract, no size); any makes the status 'unreconciled'.
ALTER TABLE account_reconciliations
  ADD COLUMN differing_positions integer NOT NULL DEFAULT 0 CHECK (differing_positions >= 0);
