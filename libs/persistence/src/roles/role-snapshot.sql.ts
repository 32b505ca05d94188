/**
 * Every role fact a set of principals needs, in one round trip: users, clients,
 * businesses, memberships, the groups the users, businesses and the clients'
 * services belong to, and the groups reachable from those through present
 * dependencies (UNION, so a cycle ends the recursion). The closure itself is
 * the domain's to compute; this only fetches the subgraph.
 *
 * $1 user ids, $2 client ids, $3 business ids, $4/$5 membership pairs (business, user).
 */
const ROLE_FACTS = `
WITH RECURSIVE
u AS (
  SELECT u.id, u.locked,
         ARRAY(SELECT r.role FROM user_roles r WHERE r.user_id = u.id AND r.present) AS roles
  FROM users u WHERE u.id = ANY($1::text[])
),
c AS (
  SELECT c.id, COALESCE(c.service_id, c.id) AS service_id, COALESCE(c.scopes, '{}') AS scopes,
         ARRAY(SELECT r.role FROM client_roles r WHERE r.client_id = c.id AND r.present) AS roles
  FROM clients c WHERE c.id = ANY($2::text[])
),
b AS (
  SELECT b.id, b.active,
         ARRAY(SELECT r.role FROM business_roles r WHERE r.business_id = b.id AND r.present) AS roles
  FROM businesses b WHERE b.id = ANY($3::text[])
),
m AS (
  SELECT m.business_id, m.user_id,
         ARRAY(SELECT r.role FROM business_member_roles r
               WHERE r.business_id = m.business_id AND r.user_id = m.user_id AND r.present) AS roles
  FROM business_memberships m
  JOIN unnest($4::text[], $5::text[]) AS p(business_id, user_id)
    ON m.business_id = p.business_id AND m.user_id = p.user_id
  WHERE m.present
),
direct AS (
  SELECT gm.group_id, gm.member_type::text AS member_type, gm.member_id
  FROM group_members gm
  WHERE gm.present AND (
       (gm.member_type = 'USER' AND gm.member_id = ANY($1::text[]))
    OR (gm.member_type = 'BUSINESS' AND gm.member_id = ANY($3::text[]))
    OR (gm.member_type = 'SERVICE' AND gm.member_id IN (SELECT service_id FROM c)))
),
reach(group_id) AS (
  SELECT group_id FROM direct
  UNION
  SELECT d.depends_on_group_id FROM group_dependencies d JOIN reach r ON d.group_id = r.group_id WHERE d.present
),
g AS (
  SELECT r.group_id AS id,
         ARRAY(SELECT gr.role FROM group_roles gr WHERE gr.group_id = r.group_id AND gr.present) AS roles,
         ARRAY(SELECT gd.depends_on_group_id FROM group_dependencies gd
               WHERE gd.group_id = r.group_id AND gd.present) AS depends_on
  FROM reach r
)`;

const ROLE_FACTS_COLUMNS = `
  (SELECT COALESCE(json_agg(u), '[]') FROM u) AS users,
  (SELECT COALESCE(json_agg(c), '[]') FROM c) AS clients,
  (SELECT COALESCE(json_agg(b), '[]') FROM b) AS businesses,
  (SELECT COALESCE(json_agg(m), '[]') FROM m) AS memberships,
  (SELECT COALESCE(json_agg(direct), '[]') FROM direct) AS direct,
  (SELECT COALESCE(json_agg(g), '[]') FROM g) AS groups`;

export const LOAD_ROLE_SNAPSHOT = `${ROLE_FACTS}
SELECT ${ROLE_FACTS_COLUMNS}`;

/**
 * The same, plus one session ($6) as JSON: the renewal with an access token
 * knows its subject from the token, so it reads both in one round trip.
 */
export const LOAD_SESSION_WITH_ROLE_SNAPSHOT = (sessionColumns: string) => `${ROLE_FACTS}
SELECT ${ROLE_FACTS_COLUMNS},
  (SELECT row_to_json(x) FROM (SELECT ${sessionColumns} FROM sessions s WHERE s.id = $6::uuid) x) AS session`;
