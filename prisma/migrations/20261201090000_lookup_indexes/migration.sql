-- Two lookups by key that read far more than they need without these indexes.
--
-- An identity-provider login continues the user's latest live session with that client. With
-- only single-column indexes, and no statistics (a table never analyzed), the planner ANDed both:
-- it read the client's index entry for every one of that client's sessions to find one user's
-- (3.0 ms at 100,000 sessions of one client against 0.02-0.07 ms through the pair). The pair
-- leads with user_id, so it serves every lookup of a user's sessions the user_id index served,
-- and replaces it (no extra index to maintain on every session insert).
--
-- A renewal rotates the session's current refresh token (rotated_at IS NULL), and a refresh
-- looks up the session's latest rotation. Every rotated token is kept (presenting one again
-- revokes the session), so through an index on session_id alone both read every token the session
-- was ever issued: one more a renewal, 2,880 for a 30-day session renewed every 15 minutes. With
-- rotated_at in the index both read one entry. It replaces the session_id index too; it is larger
-- (distinct rotated_at values do not deduplicate), and a rotation is no longer a HOT update.
--
-- Built inside the migration's transaction, the indexes block writes to their tables while they
-- build, and each DROP INDEX then blocks reads of its table too until the migration commits (the
-- drops come last to keep that short). On large tables, build them beforehand without blocking
-- (README, Operator runbook, Upgrades):
--   CREATE INDEX CONCURRENTLY IF NOT EXISTS "sessions_user_id_client_id_idx" ON "sessions"("user_id", "client_id");
--   CREATE INDEX CONCURRENTLY IF NOT EXISTS "refresh_tokens_session_id_rotated_at_idx" ON "refresh_tokens"("session_id", "rotated_at");
-- A concurrent build that failed or was cancelled leaves an invalid index of that name, which
-- IF NOT EXISTS would take as built: such an index is dropped and built again here, so the old
-- index is never dropped while its replacement is unusable.
DO $$
DECLARE
  invalid text;
BEGIN
  FOR invalid IN
    SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE c.relname IN ('sessions_user_id_client_id_idx', 'refresh_tokens_session_id_rotated_at_idx')
      AND NOT i.indisvalid
  LOOP
    EXECUTE format('DROP INDEX %I', invalid);
  END LOOP;
END $$;
CREATE INDEX IF NOT EXISTS "sessions_user_id_client_id_idx" ON "sessions"("user_id", "client_id");
CREATE INDEX IF NOT EXISTS "refresh_tokens_session_id_rotated_at_idx" ON "refresh_tokens"("session_id", "rotated_at");
DROP INDEX IF EXISTS "sessions_user_id_idx";
DROP INDEX IF EXISTS "refresh_tokens_session_id_idx";
