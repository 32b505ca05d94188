-- An identity-provider login continues the user's latest live session with that client. With
-- only single-column indexes, and no statistics (a table never analyzed), the planner ANDed both:
-- it read the client's index entry for every one of that client's sessions to find one user's
-- (3.0 ms at 100,000 sessions of one client against 0.02-0.07 ms through the pair). The pair
-- leads with user_id, so it serves every lookup of a user's sessions the user_id index served,
-- and replaces it (no extra index to maintain on every session insert).
-- Built inside the migration's transaction, it blocks writes to sessions while it builds: on a
-- large table, build it beforehand without blocking (README, Operator runbook, Upgrades):
--   CREATE INDEX CONCURRENTLY IF NOT EXISTS "sessions_user_id_client_id_idx" ON "sessions"("user_id", "client_id");
CREATE INDEX IF NOT EXISTS "sessions_user_id_client_id_idx" ON "sessions"("user_id", "client_id");
DROP INDEX IF EXISTS "sessions_user_id_idx";
