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
}

export const EMPTY_SCOPE: ChangeScope = {
  userIds: [],
  businessIds: [],
  clientIds: [],
  serviceIds: [],
  memberships: [],
};

export function isEmptyScope(scope: ChangeScope): boolean {
  return (
    scope.userIds.length === 0 &&
    scope.businessIds.length === 0 &&
    scope.clientIds.length === 0 &&
    scope.serviceIds.length === 0 &&
    scope.memberships.length === 0
  );
}
