-- Roles are cluster-wide while each database migrates on its own, possibly at the same moment as
-- another database on the same server (tests): create them only if missing, and treat losing the
-- race to a concurrent creator (duplicate_object, or unique_violation on pg_authid) as success.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'enclave_user') THEN
    BEGIN
      CREATE ROLE enclave_user LOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gateway_user') THEN
    BEGIN
      CREATE ROLE gateway_user LOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
  END IF;
END
$$;
