import type { ChangeEvent } from '../events/change';
import type { Clock } from '../ports/clock';
import type { RoleSnapshotLoader } from '../roles/role-snapshot-loader';
import { revocation } from '../sessions/revoke-session';
import { isLive, type Session } from '../sessions/session';
import { confirmation, decideSession } from '../sessions/session-decision';
import type { SessionRepository, SessionWrite } from '../sessions/session-repository';
import { reissue, type SessionTokenIssuer } from '../sessions/session-token-issuer';
import type { UpdateCause } from '../sessions/session-update';
import type { ChangeScope } from './change-scope';
import type { AffectedSessionFinder, AppliedChange, ChangeStore } from './change-store';

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
  /** Called before each batch: the consumer heartbeats here during a long fan-out. */
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

/**
 * Applies one inbound change and settles every live session it affects: the
 * role tables change once (a re-delivered or stale event changes nothing), then
 * the affected sessions are paged through in bounded batches, each batch's new
 * tokens and revocations written atomically with their outbox messages. Only
 * sessions whose authorities actually change receive a token.
 */
export class ApplyChangeUseCase {
  constructor(private readonly deps: ApplyChangeDependencies) {}

  async execute(event: ChangeEvent, hooks: ApplyChangeHooks = {}): Promise<ApplyChangeOutcome> {
    const applied = await this.deps.changes.apply(event);
    if (applied.kind !== 'fan-out') return { applied: applied.kind, reissued: 0, revoked: 0 };

    const cause: UpdateCause = {
      kind: 'event',
      eventId: event.id,
      eventType: event.change.type,
      occurredAt: event.time,
    };
    const settled = await this.settleScope(applied.scope, cause, hooks);
    await this.deps.changes.complete(event.id);
    return { applied: applied.kind, ...settled };
  }

  /**
   * Brings every live session in the scope in line with the role facts as
   * they are now, a bounded batch at a time. Also for changes that are not
   * events: an operator's change to a client's roles fans out through here.
   */
  async settleScope(scope: ChangeScope, cause: UpdateCause, hooks: ApplyChangeHooks = {}): Promise<Settled> {
    let reissued = 0;
    let revoked = 0;
    let afterSessionId: string | null = null;
    for (;;) {
      await hooks.beforeBatch?.();
      const now = this.deps.clock.now();
      const page = await this.deps.affected.findAffected(scope, afterSessionId, this.deps.batchSize, now);
      if (page.length === 0) break;
      const settled = await this.settle(page, cause);
      reissued += settled.reissued;
      revoked += settled.revoked;
      afterSessionId = page[page.length - 1]!.id;
      if (page.length < this.deps.batchSize) break;
    }
    return { reissued, revoked };
  }

  /**
   * Brings a batch of sessions in line with the role facts: a new token where
   * the authorities change, a revocation for a locked user, and a confirmation
   * (the revision alone moves) where the session is already right. Every write
   * is a compare-and-set on the revision read with the session, so a concurrent
   * writer that read older facts before this change committed cannot leave
   * its stale token behind: whichever of the two writes second fails and is
   * decided again on what the first left and the facts as they are then.
   */
  private async settle(sessions: readonly Session[], cause: UpdateCause): Promise<Settled> {
    let pending = sessions;
    let reissued = 0;
    let revoked = 0;
    for (let attempt = 1; attempt <= MAX_SETTLE_ATTEMPTS; attempt += 1) {
      const now = this.deps.clock.now();
      const snapshot = await this.deps.roles.load(pending);
      const writes = await Promise.all(
        pending.map(async (session): Promise<SessionWrite | undefined> => {
          const decision = decideSession(session, snapshot, now);
          // An ended session takes no writes from anyone: there is nothing to guard.
          if (decision.kind === 'unchanged') return isLive(session, now) ? confirmation(session) : undefined;
          if (decision.kind === 'revoke') return revocation(session, decision.reason, now, cause);
          return reissue(session, await this.deps.issuer.issue(session, decision.claims, now, cause));
        }),
      );
      const effective = writes.filter((write): write is SessionWrite => write !== undefined);
      if (effective.length === 0) return { reissued, revoked };
      const conflicts = await this.deps.sessions.writeMany(effective);
      for (const write of effective) {
        if (conflicts.has(write.session.id) || write.update === null) continue;
        if (write.session.status === 'REVOKED') revoked += 1;
        else reissued += 1;
      }
      if (conflicts.size === 0) return { reissued, revoked };
      pending = await this.deps.sessions.findByIds([...conflicts]);
      if (pending.length === 0) return { reissued, revoked };
    }
    throw new SessionContentionError(pending.map((session) => session.id));
  }
}
