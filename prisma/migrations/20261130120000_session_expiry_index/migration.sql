-- Housekeeping deletes sessions some time after their absolute expiry (ENDED_SESSION_RETENTION),
-- oldest first, a batch at a time: this index finds them without scanning the table. Renewals and
-- fan-outs write expires_at back unchanged, so the index does not make their updates ineligible for
-- HOT (whether one is HOT still depends on room in its page; not measured).
-- Built inside the migration's transaction, it blocks writes to sessions while it builds: on a
-- large table, build it beforehand without blocking (README, Operator runbook, Housekeeping):
--   CREATE INDEX CONCURRENTLY IF NOT EXISTS "sessions_expires_at_idx" ON "sessions"("expires_at");
CREATE INDEX IF NOT EXISTS "sessions_expires_at_idx" ON "sessions"("expires_at");
