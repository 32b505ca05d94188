import type { ChangeEvent } from '../events/change';
import type { Session } from '../sessions/session';
import type { ChangeScope } from './change-scope';

/** What applying an event did. */
export type AppliedChange =
  /** The event was processed completely before: nothing to do. */
  | { readonly kind: 'duplicate' }
  /** Stale (an older fact than the one held) or already true: recorded, no session is affected. */
  | { readonly kind: 'no-effect' }
  /** The role tables changed (now or in an interrupted earlier run): these sessions may need a token. */
  | { readonly kind: 'fan-out'; readonly scope: ChangeScope };

/** The role tables and the processed-event record (one transaction per call). */
export interface ChangeStore {
  /**
   * Atomically, in one transaction and in the given order: claims each event
   * id, applies each change last-writer-wins and records its scope; a
   * re-delivered event gets what its first run left. One answer per event.
   */
  applyAll(events: readonly ChangeEvent[]): Promise<AppliedChange[]>;
  /** Marks these events' fan-outs as complete. */
  completeAll(eventIds: readonly string[]): Promise<void>;
}

/** Pages through the live sessions in a scope, in id order. */
export interface AffectedSessionFinder {
  findAffected(
    scope: ChangeScope,
    afterSessionId: string | null,
    limit: number,
    now: Date,
  ): Promise<Session[]>;
}
