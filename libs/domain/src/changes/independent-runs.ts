import type { ChangeEvent } from '../events/change';
import { EventType } from '../events/event-types';

/**
 * The user an event's effect is confined to: it writes only facts about that
 * user (their roles, their lock, their membership of a group) and can change
 * only that user's sessions. Null when it reaches further: a client's, a
 * business's or a group's facts reach every session that inherits them.
 */
export function confinedToUser(event: ChangeEvent): string | null {
  const { change } = event;
  switch (change.type) {
    case EventType.UserRoleGranted:
    case EventType.UserRoleRevoked:
    case EventType.UserLocked:
    case EventType.UserUnlocked:
      return change.data.userId;
    case EventType.GroupMemberAdded:
    case EventType.GroupMemberRemoved:
      return change.data.memberType === 'USER' ? change.data.memberId : null;
    default:
      return null;
  }
}

/**
 * Splits a partition's events, in order, into runs that can be applied and
 * settled together with exactly the outcome of one at a time: consecutive
 * events confined to pairwise different users. Their facts and their sessions
 * are disjoint, so no event of a run can see or change what another one does,
 * and each affected session still receives one token per event that changes
 * it, caused by that event. Any other event is a run of its own, and a
 * second event of the same user starts a new run, so a user's events still
 * apply one after the other.
 */
export function independentRuns(events: readonly ChangeEvent[], maxRunLength: number): ChangeEvent[][] {
  if (maxRunLength < 1) throw new Error('a run holds at least one event');
  const runs: ChangeEvent[][] = [];
  let run: ChangeEvent[] = [];
  let users = new Set<string>();
  for (const event of events) {
    const user = confinedToUser(event);
    // `users` holds one user per event exactly while the run is made of confined events only.
    const runIsConfined = users.size === run.length;
    const joins = user !== null && runIsConfined && !users.has(user) && run.length < maxRunLength;
    if (!joins && run.length > 0) {
      runs.push(run);
      run = [];
      users = new Set();
    }
    run.push(event);
    if (user !== null) users.add(user);
  }
  if (run.length > 0) runs.push(run);
  return runs;
}
