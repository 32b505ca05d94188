import { BUSINESS_ROLE, toAuthority, type AuthLevel } from './authorities';
import { groupClosure } from './group-closure';
import type { RoleSnapshot } from './role-snapshot';

/** Who a token is for: the inputs of role resolution besides the role facts. */
export interface Principal {
  readonly userId: string;
  readonly clientId: string;
  /** The business the session acts for, or null when the user acts for themself. */
  readonly businessId: string | null;
  readonly authLevel: AuthLevel;
}

/**
 * A user's effective authorities in a session (http-api.md §5):
 * the client's roles, the session's authentication level, the user's own roles;
 * when acting for a business, the membership's roles, BUSINESS and the
 * business's roles; and the roles of every group — with its dependencies,
 * transitively — that the user, that business or the client's service belongs to.
 *
 * The caller has checked that the user may act for the business; facts that are
 * missing from the snapshot simply contribute nothing. Sorted, without duplicates.
 */
export function resolveAuthorities(principal: Principal, snapshot: RoleSnapshot): string[] {
  const roles = new Set<string>();
  const add = (list: readonly string[] | undefined) => list?.forEach((role) => roles.add(role));

  const client = snapshot.client(principal.clientId);
  add(client?.roles);
  roles.add(principal.authLevel);
  add(snapshot.user(principal.userId)?.roles);

  const directGroups = [...snapshot.groupsOf('USER', principal.userId)];
  if (client) directGroups.push(...snapshot.groupsOf('SERVICE', client.serviceId));

  if (principal.businessId !== null) {
    add(snapshot.membershipRoles(principal.businessId, principal.userId));
    roles.add(BUSINESS_ROLE);
    add(snapshot.business(principal.businessId)?.roles);
    directGroups.push(...snapshot.groupsOf('BUSINESS', principal.businessId));
  }

  const reachable = groupClosure(directGroups, (groupId) => snapshot.group(groupId)?.dependsOn ?? []);
  for (const groupId of reachable) add(snapshot.group(groupId)?.roles);

  return [...roles].map(toAuthority).sort();
}
