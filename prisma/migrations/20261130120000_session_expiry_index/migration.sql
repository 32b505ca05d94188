-- Housekeeping deletes sessions some time after their absolute expiry (ENDED_SESSION_RETENTION),
-- oldest first, a batch at a time: this index finds them without scanning the table. Renewals
-- rewrite expires_at with the value it has, so their updates stay HOT.
-- Built inside the migration's transaction, it blocks writes to sessions while it builds: on a
-- large table, build it beforehand without blocking (README, Operator runbook, Housekeeping):
--   CREATE INDEX CONCURRENTLY IF NOT EXISTS "sessions_expires_at_idx" ON "sessions"("expires_at");
CREATE INDEX IF NOT EXISTS "sessions_expires_at_idx" ON "sessions"("expires_at");
