/**
 * Creates a session with its first token: the user and client rows (they exist
 * from the first thing that names them), the session, its refresh token and the
 * outbox message, in one statement — one round trip, atomic without BEGIN.
 */
export const INSERT_SESSION = `
WITH fresh AS (
  SELECT NOT EXISTS (SELECT 1 FROM sessions WHERE id = $1::uuid) AS ok
), new_user AS (
  INSERT INTO users (id) SELECT $2 FROM fresh WHERE ok ON CONFLICT DO NOTHING
), new_client AS (
  INSERT INTO clients (id) SELECT $3 FROM fresh WHERE ok ON CONFLICT DO NOTHING
), session AS (
  INSERT INTO sessions (id, user_id, client_id, business_id, auth_level, remember_me, status, created_at,
                        expires_at, updated_at, claims_version, revision, authorities, scope, token_id,
                        token_expires_at)
  VALUES ($1::uuid, $2, $3, $4, $5, $6, 'ACTIVE', $7, $8, $7, $9, $10, $11::text[], $12::text[], $13, $14)
  ON CONFLICT (id) DO NOTHING
  RETURNING id
), refresh AS (
  INSERT INTO refresh_tokens (token_hash, session_id, issued_at)
  SELECT $15, id, $7 FROM session WHERE $15::text IS NOT NULL
), message AS (
  INSERT INTO outbox (topic, message_key, value, headers, session_id, claims_version)
  SELECT $16, $17, $18, $19::jsonb, id, $9 FROM session
)
SELECT id::text FROM session`;

/**
 * Writes the next state of many sessions, each only if its revision is still
 * the one the writer read (optimistic locking), together with their
 * refresh-token rotation and outbox messages (none for a confirmation, whose
 * topic is null). Side effects follow the input row that matched (by `ord`), so
 * of two writes to one session only the one applied counts. Returns the input
 * rows (`ord`) written; the others lost to a concurrent writer.
 */
export const UPDATE_SESSIONS = `
WITH input AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS i(
    ord int, id uuid, expected int, revision int, claims_version int, business_id text, status session_status,
    revoked_reason text, revoked_at timestamptz, remember_me boolean, expires_at timestamptz,
    authorities text[], scope text[], token_id text, token_expires_at timestamptz,
    refresh_change boolean, refresh_issue_hash text, refresh_at timestamptz,
    topic text, message_key text, value text, headers jsonb)
), updated AS (
  UPDATE sessions s SET
    revision = i.revision, claims_version = i.claims_version, business_id = i.business_id, status = i.status,
    revoked_reason = i.revoked_reason, revoked_at = i.revoked_at, remember_me = i.remember_me,
    expires_at = i.expires_at, authorities = i.authorities, scope = i.scope, token_id = i.token_id,
    token_expires_at = i.token_expires_at, updated_at = now()
  FROM input i
  -- The id list is redundant but tells the planner to look the sessions up by key: it
  -- prices jsonb_to_recordset at 100 rows, and where the sessions table has no statistics
  -- (a database never analyzed) it then scanned the whole table for every write: 5.3 ms
  -- against 0.5 ms for 4 writes among 11,000 sessions. (A large batch is planned for its
  -- size each time: see batchStatementName.)
  WHERE s.id = ANY (ARRAY(SELECT x.id FROM input x)) AND s.id = i.id AND s.revision = i.expected
  RETURNING s.id, i.ord
), rotated AS (
  -- The current token is one entry of the (session_id, rotated_at) index: a session keeps every
  -- token it rotated, one more with each renewal.
  UPDATE refresh_tokens r SET rotated_at = i.refresh_at
  FROM input i JOIN updated u ON u.ord = i.ord
  WHERE i.refresh_change AND r.session_id = i.id AND r.rotated_at IS NULL
), issued AS (
  INSERT INTO refresh_tokens (token_hash, session_id, issued_at)
  SELECT i.refresh_issue_hash, i.id, i.refresh_at
  FROM input i JOIN updated u ON u.ord = i.ord
  WHERE i.refresh_issue_hash IS NOT NULL
), published AS (
  INSERT INTO outbox (topic, message_key, value, headers, session_id, claims_version)
  SELECT i.topic, decode(i.message_key, 'base64'), decode(i.value, 'base64'), i.headers, i.id, i.claims_version
  FROM input i JOIN updated u ON u.ord = i.ord
  WHERE i.topic IS NOT NULL
  ORDER BY i.ord
)
SELECT ord FROM updated`;
