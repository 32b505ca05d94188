import { describe, expect, it } from 'vitest';
import type { Change, ChangeEvent } from '../events/change';
import { EventType } from '../events/event-types';
import { confinedToUser, independentRuns } from './independent-runs';

let sequence = 0;
function eventOf(change: Change): ChangeEvent {
  sequence += 1;
  return {
    id: `e${sequence}`,
    source: '/iam/test',
    subject: 'subject',
    time: new Date('2026-03-01T10:00:00.000Z'),
    timestamp: '2026-03-01T10:00:00.000000Z',
    change,
    origin: { topic: 'iam.role-changes.v1', partition: 0, offset: String(sequence) },
  };
}
const userRole = (userId: string) =>
  eventOf({ type: EventType.UserRoleGranted, data: { userId, role: 'R' } });
const lock = (userId: string) => eventOf({ type: EventType.UserLocked, data: { userId } });
const groupMember = (memberType: 'USER' | 'BUSINESS' | 'SERVICE', memberId: string) =>
  eventOf({ type: EventType.GroupMemberAdded, data: { groupId: 'g', memberType, memberId } });
const businessRole = () =>
  eventOf({ type: EventType.BusinessRoleGranted, data: { businessId: 'b', role: 'R' } });
const clientRole = () => eventOf({ type: EventType.ClientRoleGranted, data: { clientId: 'c', role: 'R' } });
const groupRole = () => eventOf({ type: EventType.GroupRoleGranted, data: { groupId: 'g', role: 'R' } });
const memberRole = (userId: string) =>
  eventOf({ type: EventType.BusinessMemberRoleGranted, data: { businessId: 'b', userId, role: 'R' } });

const ids = (runs: ChangeEvent[][]) => runs.map((run) => run.map((event) => event.id));

describe('confinedToUser', () => {
  it("names the user of events that write only that user's facts", () => {
    expect(confinedToUser(userRole('u1'))).toBe('u1');
    expect(confinedToUser(lock('u2'))).toBe('u2');
    expect(confinedToUser(eventOf({ type: EventType.UserUnlocked, data: { userId: 'u3' } }))).toBe('u3');
    expect(confinedToUser(groupMember('USER', 'u4'))).toBe('u4');
  });

  it('names nobody for events that reach sessions through a client, a business or a group', () => {
    for (const event of [
      groupMember('BUSINESS', 'b'),
      groupMember('SERVICE', 's'),
      businessRole(),
      clientRole(),
      groupRole(),
      // Membership events reach only that user's sessions too, but are kept apart until something needs them.
      memberRole('u1'),
    ]) {
      expect(confinedToUser(event)).toBeNull();
    }
  });
});

describe('independentRuns', () => {
  it('puts consecutive events of different users in one run', () => {
    const events = [userRole('a'), lock('b'), groupMember('USER', 'c')];
    expect(ids(independentRuns(events, 10))).toEqual([events.map((event) => event.id)]);
  });

  it("starts a new run at a user's second event, so a user's events apply in order", () => {
    const [a1, b1, a2, c1] = [userRole('a'), userRole('b'), userRole('a'), userRole('c')];
    expect(ids(independentRuns([a1!, b1!, a2!, c1!], 10))).toEqual([
      [a1!.id, b1!.id],
      [a2!.id, c1!.id],
    ]);
  });

  it('gives every other event a run of its own, in the order the events came', () => {
    const [a, business, b, c, group] = [
      userRole('a'),
      businessRole(),
      userRole('b'),
      userRole('c'),
      groupRole(),
    ];
    expect(ids(independentRuns([a!, business!, b!, c!, group!], 10))).toEqual([
      [a!.id],
      [business!.id],
      [b!.id, c!.id],
      [group!.id],
    ]);
  });

  it('caps the length of a run', () => {
    const events = ['a', 'b', 'c', 'd', 'e'].map(userRole);
    expect(independentRuns(events, 2).map((run) => run.length)).toEqual([2, 2, 1]);
  });

  it('keeps every event exactly once, in order, whatever the mix', () => {
    const events = [userRole('a'), clientRole(), userRole('a'), lock('b'), memberRole('c'), userRole('c')];
    expect(independentRuns(events, 3).flat()).toEqual(events);
    expect(independentRuns([], 3)).toEqual([]);
  });
});
