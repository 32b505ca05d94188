/**
 * Who a change can affect, worked out when the change is applied: live
 * sessions of these users, acting for these businesses, of these clients or of
 * clients belonging to these services, or of these users acting for these
 * businesses. Kept with the processed event until every session is settled.
 */
export interface ChangeScope {
  readonly userIds: readonly string[];
  readonly businessIds: readonly string[];
  readonly clientIds: readonly string[];
  readonly serviceIds: readonly string[];
  readonly memberships: ReadonlyArray<{ readonly businessId: string; readonly userId: string }>;
  /**
   * Sessions of the members of these groups and of every group depending on
   * them, looked up when the sessions are paged, after the change committed.
   * The member lists above come from the change's own transaction, which
   * cannot see a concurrent transaction's new member or dependency; that
   * transaction's own fan-out cannot see this change until it commits. Looking
   * again after the commit closes the gap: whichever of the two commits second
   * sees both (a group change and a membership change arrive on different
   * partitions, so they do run concurrently).
   */
  readonly groupIds: readonly string[];
}

export const EMPTY_SCOPE: ChangeScope = {
  userIds: [],
  businessIds: [],
  clientIds: [],
  serviceIds: [],
  memberships: [],
  groupIds: [],
};

export function isEmptyScope(scope: ChangeScope): boolean {
  return (
    scope.userIds.length === 0 &&
    scope.businessIds.length === 0 &&
    scope.clientIds.length === 0 &&
    scope.serviceIds.length === 0 &&
    scope.memberships.length === 0 &&
    scope.groupIds.length === 0
  );
}

/** Everyone any of the scopes can affect (members may repeat; the finder reads each session once). */
export function unionOfScopes(scopes: readonly ChangeScope[]): ChangeScope {
  if (scopes.length === 1) return scopes[0]!;
  return {
    userIds: scopes.flatMap((scope) => scope.userIds),
    businessIds: scopes.flatMap((scope) => scope.businessIds),
    clientIds: scopes.flatMap((scope) => scope.clientIds),
    serviceIds: scopes.flatMap((scope) => scope.serviceIds),
    memberships: scopes.flatMap((scope) => scope.memberships),
    groupIds: scopes.flatMap((scope) => scope.groupIds),
  };
}
