import type { ChangeEvent } from '../events/change';
import type { Clock } from '../ports/clock';
import type { RoleSnapshotLoader } from '../roles/role-snapshot-loader';
import { revocation } from '../sessions/revoke-session';
import { isLive, type Session } from '../sessions/session';
import { confirmation, decideSession } from '../sessions/session-decision';
import type { SessionRepository, SessionWrite } from '../sessions/session-repository';
import { reissue, type SessionTokenIssuer } from '../sessions/session-token-issuer';
import type { UpdateCause } from '../sessions/session-update';
import { unionOfScopes, type ChangeScope } from './change-scope';
import type { AffectedSessionFinder, AppliedChange, ChangeStore } from './change-store';
import { confinedToUser } from './independent-runs';

export interface ApplyChangeDependencies {
  readonly changes: ChangeStore;
  readonly affected: AffectedSessionFinder;
  readonly sessions: SessionRepository;
  readonly roles: RoleSnapshotLoader;
  readonly issuer: SessionTokenIssuer;
  readonly clock: Clock;
  /** Sessions settled per transaction: bounds memory, transaction size and time between heartbeats. */
  readonly batchSize: number;
}

export interface ApplyChangeOutcome {
  readonly applied: AppliedChange['kind'];
  readonly reissued: number;
  readonly revoked: number;
}

export interface ApplyChangeHooks {
  /**
   * Called before each batch of sessions is settled, once it is read (so not for the look that
   * finds nothing more): the consumer heartbeats here during a long fan-out, and hands a second
   * batch off from its fetch cycle.
   */
  beforeBatch?(): Promise<void>;
}

/** Thrown when sessions keep changing under a fan-out; the event is retried as a whole. */
export class SessionContentionError extends Error {
  constructor(readonly sessionIds: readonly string[]) {
    super(`${sessionIds.length} session(s) kept changing concurrently`);
    this.name = 'SessionContentionError';
  }
}

/** A batch is decided again after each write a concurrent writer won; this many times, then the event is retried. */
const MAX_SETTLE_ATTEMPTS = 8;

/** What settling did: tokens re-issued, sessions revoked. */
export interface Settled {
  readonly reissued: number;
  readonly revoked: number;
}

const NOTHING_SETTLED: Settled = { reissued: 0, revoked: 0 };

/** The tally with one more published write. */
function tallied(settled: Settled, write: SessionWrite): Settled {
  return write.session.status === 'REVOKED'
    ? { reissued: settled.reissued, revoked: settled.revoked + 1 }
    : { reissued: settled.reissued + 1, revoked: settled.revoked };
}

/** Which event a settled session's token or revocation is owed to. */
type CauseOf = (session: Session) => UpdateCause;

/** The cause of an event's tokens and revocations. */
function causeOfEvent(event: ChangeEvent): UpdateCause {
  return { kind: 'event', eventId: event.id, eventType: event.change.type, occurredAt: event.time };
}

/**
 * Applies inbound changes and settles every live session they affect: the
 * role tables change once (a re-delivered or stale event changes nothing), then
 * the affected sessions are paged through in bounded batches, each batch's new
 * tokens and revocations written atomically with their outbox messages. Only
 * sessions whose authorities actually change receive a token.
 */
export class ApplyChangeUseCase {
  constructor(private readonly deps: ApplyChangeDependencies) {}

  async execute(event: ChangeEvent, hooks: ApplyChangeHooks = {}): Promise<ApplyChangeOutcome> {
    const [outcome] = await this.executeRun([event], hooks);
    return outcome!;
  }

  /**
   * Applies a run of independent events (see independentRuns) as one: their
   * changes in one transaction, in order, then their sessions settled in
   * shared pages, each session's token caused by the one event of the run
   * that reaches it. The outcome is the one the events would have had one
   * at a time; the statements are those of one event.
   */
  async executeRun(
    events: readonly ChangeEvent[],
    hooks: ApplyChangeHooks = {},
  ): Promise<ApplyChangeOutcome[]> {
    const applied = await this.deps.changes.applyAll(events);
    const fanOuts = events.flatMap((event, index) => {
      const change = applied[index]!;
      return change.kind === 'fan-out' ? [{ event, scope: change.scope }] : [];
    });
    const settled = new Map<string, Settled>();
    if (fanOuts.length > 0) {
      await this.settlePages(
        unionOfScopes(fanOuts.map((fanOut) => fanOut.scope)),
        causeWithinRun(fanOuts.map((fanOut) => fanOut.event)),
        hooks,
        (write) => {
          const cause = write.update!.cause;
          if (cause.kind !== 'event') return;
          settled.set(cause.eventId, tallied(settled.get(cause.eventId) ?? NOTHING_SETTLED, write));
        },
      );
      await this.deps.changes.completeAll(fanOuts.map((fanOut) => fanOut.event.id));
    }
    return events.map((event, index) => ({
      applied: applied[index]!.kind,
      reissued: settled.get(event.id)?.reissued ?? 0,
      revoked: settled.get(event.id)?.revoked ?? 0,
    }));
  }

  /**
   * Brings every live session in the scope in line with the role facts as
   * they are now, a bounded batch at a time. Also for changes that are not
   * events: an operator's change to a client's roles fans out through here.
   */
  async settleScope(scope: ChangeScope, cause: UpdateCause, hooks: ApplyChangeHooks = {}): Promise<Settled> {
    let settled = NOTHING_SETTLED;
    await this.settlePages(
      scope,
      () => cause,
      hooks,
      (write) => (settled = tallied(settled, write)),
    );
    return settled;
  }

  /**
   * Pages through the scope's live sessions, handing each write that published
   * something to `published` as its page commits: a fan-out's writes are
   * counted, not kept, since each holds a token and a fan-out has no bound.
   */
  private async settlePages(
    scope: ChangeScope,
    causeOf: CauseOf,
    hooks: ApplyChangeHooks,
    published: (write: SessionWrite) => void,
  ): Promise<void> {
    let afterSessionId: string | null = null;
    for (;;) {
      const now = this.deps.clock.now();
      const page = await this.deps.affected.findAffected(scope, afterSessionId, this.deps.batchSize, now);
      if (page.length === 0) break;
      await hooks.beforeBatch?.();
      (await this.settle(page, causeOf)).forEach(published);
      afterSessionId = page[page.length - 1]!.id;
      if (page.length < this.deps.batchSize) break;
    }
  }

  /**
   * Brings a batch of sessions in line with the role facts: a new token where
   * the authorities change, a revocation for a locked user, and a confirmation
   * (the revision alone moves) where the session is already right. Every write
   * is a compare-and-set on the revision read with the session, so a concurrent
   * writer that read older facts before this change committed cannot leave
   * its stale token behind: whichever of the two writes second fails and is
   * decided again on what the first left and the facts as they are then.
   * Returns the writes that published a token or a revocation.
   */
  private async settle(sessions: readonly Session[], causeOf: CauseOf): Promise<SessionWrite[]> {
    let pending = sessions;
    const published: SessionWrite[] = [];
    for (let attempt = 1; attempt <= MAX_SETTLE_ATTEMPTS; attempt += 1) {
      const now = this.deps.clock.now();
      const snapshot = await this.deps.roles.load(pending);
      const writes = await Promise.all(
        pending.map(async (session): Promise<SessionWrite | undefined> => {
          const decision = decideSession(session, snapshot, now);
          // An ended session takes no writes from anyone: there is nothing to guard.
          if (decision.kind === 'unchanged') return isLive(session, now) ? confirmation(session) : undefined;
          const cause = causeOf(session);
          if (decision.kind === 'revoke') return revocation(session, decision.reason, now, cause);
          return reissue(session, await this.deps.issuer.issue(session, decision.claims, now, cause));
        }),
      );
      const effective = writes.filter((write): write is SessionWrite => write !== undefined);
      if (effective.length === 0) return published;
      const conflicts = await this.deps.sessions.writeMany(effective);
      published.push(
        ...effective.filter((write) => !conflicts.has(write.session.id) && write.update !== null),
      );
      if (conflicts.size === 0) return published;
      pending = await this.deps.sessions.findByIds([...conflicts]);
      if (pending.length === 0) return published;
    }
    throw new SessionContentionError(pending.map((session) => session.id));
  }
}

/**
 * The cause of each session's update within a run: the one event of the run
 * confined to the session's user (a run of several holds only such events, one
 * per user), or the run's only event.
 */
function causeWithinRun(events: readonly ChangeEvent[]): CauseOf {
  if (events.length === 1) {
    const cause = causeOfEvent(events[0]!);
    return () => cause;
  }
  const byUser = new Map<string, UpdateCause>();
  for (const event of events) {
    const user = confinedToUser(event);
    if (user === null || byUser.has(user)) {
      throw new Error(
        `event ${event.id} cannot share a run: its effect is not confined to a user of its own`,
      );
    }
    byUser.set(user, causeOfEvent(event));
  }
  return (session) => {
    const cause = byUser.get(session.userId);
    if (!cause) throw new Error(`session ${session.id} is outside every event of its run`);
    return cause;
  };
}
