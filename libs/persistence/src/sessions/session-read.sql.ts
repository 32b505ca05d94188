import { SESSION_COLUMNS } from './session-rows';

/**
 * The latest live session of a user ($1) with a client ($2) at an instant ($3), the one an
 * identity-provider login continues. Found through the (user_id, client_id) index whether or not
 * the table has statistics (see its migration).
 */
export const SELECT_CONTINUABLE_SESSION = `SELECT ${SESSION_COLUMNS} FROM sessions s
  WHERE s.user_id = $1 AND s.client_id = $2 AND s.status = 'ACTIVE' AND s.expires_at > $3
  ORDER BY s.created_at DESC LIMIT 1`;

/**
 * A refresh token by its hash ($1): its session, when it was rotated, and whether that was the
 * session's latest rotation (the one a concurrent retry may still present within the grace
 * window). The latest rotation is one entry of the (session_id, rotated_at) index, however many
 * tokens the session has rotated (see its migration).
 */
export const SELECT_REFRESH_TOKEN_BY_HASH = `SELECT r.session_id::text AS session_id, r.rotated_at,
    r.rotated_at IS NOT NULL AND r.rotated_at = (
      SELECT max(x.rotated_at) FROM refresh_tokens x WHERE x.session_id = r.session_id
    ) AS latest_rotated
  FROM refresh_tokens r WHERE r.token_hash = $1`;
