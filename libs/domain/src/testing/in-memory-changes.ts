import type { ChangeScope } from '../changes/change-scope';
import type { AffectedSessionFinder, AppliedChange, ChangeStore } from '../changes/change-store';
import type { ChangeEvent } from '../events/change';
import { isLive, type Session } from '../sessions/session';
import type { InMemorySessionRepository } from './in-memory-session-repository';

/** A ChangeStore whose answer the test chooses; it records what it was asked. */
export class FakeChangeStore implements ChangeStore {
  readonly applied: ChangeEvent[] = [];
  readonly completed: string[] = [];

  /** How many calls applied events (a run is one call, one transaction). */
  applyCalls = 0;

  /** `result` answers every event, unless `resultFor` answers it. */
  constructor(
    public result: AppliedChange,
    private readonly resultFor: (event: ChangeEvent) => AppliedChange | undefined = () => undefined,
  ) {}

  async applyAll(events: readonly ChangeEvent[]): Promise<AppliedChange[]> {
    this.applyCalls += 1;
    this.applied.push(...events);
    return events.map((event) => this.resultFor(event) ?? this.result);
  }

  async completeAll(eventIds: readonly string[]): Promise<void> {
    this.completed.push(...eventIds);
  }
}

export interface FindAffectedCall {
  readonly scope: ChangeScope;
  readonly afterSessionId: string | null;
  readonly limit: number;
  readonly now: Date;
  readonly returned: readonly string[];
}

/** Pages, in id order, through the live sessions of an in-memory repository that fall in a scope. */
export class InMemoryAffectedSessionFinder implements AffectedSessionFinder {
  readonly calls: FindAffectedCall[] = [];

  constructor(
    private readonly sessions: InMemorySessionRepository,
    /** The service of a client (a client without one is its own service). */
    private readonly serviceOf: (clientId: string) => string = (clientId) => clientId,
  ) {}

  async findAffected(
    scope: ChangeScope,
    afterSessionId: string | null,
    limit: number,
    now: Date,
  ): Promise<Session[]> {
    const page = this.sessions
      .all()
      .filter((session) => afterSessionId === null || session.id > afterSessionId)
      .filter((session) => isLive(session, now) && this.inScope(scope, session))
      .slice(0, limit);
    this.calls.push({ scope, afterSessionId, limit, now, returned: page.map((session) => session.id) });
    return page;
  }

  private inScope(scope: ChangeScope, session: Session): boolean {
    if (scope.groupIds.length > 0) {
      // Groups need the role tables to expand; this fake has none, and silently
      // finding nobody would let a test pass for the wrong reason.
      throw new Error('InMemoryAffectedSessionFinder cannot expand groups; the integration tests cover them');
    }
    return (
      scope.userIds.includes(session.userId) ||
      (session.businessId !== null && scope.businessIds.includes(session.businessId)) ||
      scope.clientIds.includes(session.clientId) ||
      scope.serviceIds.includes(this.serviceOf(session.clientId)) ||
      scope.memberships.some((m) => m.userId === session.userId && m.businessId === session.businessId)
    );
  }
}
