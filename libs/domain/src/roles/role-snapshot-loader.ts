import type { Principal } from './resolve-authorities';
import type { RoleSnapshot } from './role-snapshot';

/** Whose role facts to read: a principal without its authentication level. */
export type Subject = Pick<Principal, 'userId' | 'clientId' | 'businessId'>;

/** Reads the role facts of several principals at once (one round trip for a whole batch). */
export interface RoleSnapshotLoader {
  load(subjects: readonly Subject[]): Promise<RoleSnapshot>;
}
