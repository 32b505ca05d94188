import { badRequest, ErrorCode, forbidden, preconditionFailed, unauthenticated } from '../errors';
import type { Clock } from '../ports/clock';
import type { IdGenerator } from '../ports/id-generator';
import type { RefreshTokenHasher } from '../ports/refresh-token-hasher';
import { sameAuthorities, type AuthLevel } from '../roles/authorities';
import { resolveAuthorities } from '../roles/resolve-authorities';
import type { RoleSnapshot } from '../roles/role-snapshot';
import type { RoleSnapshotLoader } from '../roles/role-snapshot-loader';
import { revocation } from '../sessions/revoke-session';
import { isLive, RevocationReason, type Session } from '../sessions/session';
import { decideSession } from '../sessions/session-decision';
import { initialExpiry, renewedExpiry, type SessionPolicy } from '../sessions/session-policy';
import type { SessionRepository } from '../sessions/session-repository';
import {
  reissue,
  type IssuedToken,
  type SessionClaims,
  type SessionTokenIssuer,
} from '../sessions/session-token-issuer';
import { HTTP_CAUSE } from '../sessions/session-update';
import type { TokenVerifier, VerifiedToken } from '../tokens/access-token';
import type { CallerAuthenticator } from './caller-authenticator';
import { verifyOr } from './caller-authenticator';
import type { RenewTokenCommand, RenewTokenResult } from './renew-token.command';
import { sessionWithRolesFrom, type SessionWithRolesReader } from './session-with-roles.reader';

export interface RenewTokenSettings {
  readonly policy: SessionPolicy;
  readonly defaultScope: readonly string[];
  /** The level of a session started after an identity provider's login. */
  readonly identityProviderAuthLevel: AuthLevel;
}

export interface RenewTokenDependencies {
  readonly caller: CallerAuthenticator;
  /** One read for the session and its subject's role facts; by default the two ports side by side. */
  readonly sessionWithRoles?: SessionWithRolesReader;
  readonly verifier: TokenVerifier;
  readonly sessions: SessionRepository;
  readonly roles: RoleSnapshotLoader;
  readonly issuer: SessionTokenIssuer;
  readonly refreshTokens: RefreshTokenHasher;
  readonly ids: IdGenerator;
  readonly clock: Clock;
  readonly settings: RenewTokenSettings;
}

/** Where the renewal starts from: an existing session, or a new one (identity-provider case). */
interface Target {
  readonly session: Session | null;
  /** Already read together with the session, when the subject was known before (access token). */
  readonly snapshot?: RoleSnapshot;
  readonly userId: string;
  readonly clientId: string;
  readonly businessId: string | null;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;
const REFRESH_TOKEN_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Concurrent renewals of one session retry on the newer state; this many tries, then 412. */
const MAX_ATTEMPTS = 5;

/**
 * Renew Token: re-issues a user's token so that it carries the user's roles now
 * (http-api.md §1). Three ways in — the user's access token, the session's
 * current refresh token, or an identity provider's user and client ids — all
 * end in one signed token, one session write and one published update.
 */
export class RenewTokenUseCase {
  private readonly sessionWithRoles: SessionWithRolesReader;

  constructor(private readonly deps: RenewTokenDependencies) {
    this.sessionWithRoles = deps.sessionWithRoles ?? sessionWithRolesFrom(deps.sessions, deps.roles);
  }

  async execute(command: RenewTokenCommand): Promise<RenewTokenResult> {
    const caller = await this.deps.caller.authenticate(command.callerToken);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
      const result = await this.attempt(command, caller);
      if (result) return result;
    }
    throw preconditionFailed(ErrorCode.ConcurrentRenewal, 'the session is being renewed concurrently; retry');
  }

  /** One optimistic attempt; undefined when a concurrent write to the session won. */
  private async attempt(
    command: RenewTokenCommand,
    caller: VerifiedToken,
  ): Promise<RenewTokenResult | undefined> {
    const now = this.deps.clock.now();
    const target = await this.locate(command, caller, now);
    if (target === undefined) return undefined;
    const { session, userId, clientId, businessId } = target;
    if (session) assertLive(session, now);
    await this.assertCallerSessionLive(caller, session, now);

    const snapshot = target.snapshot ?? (await this.deps.roles.load([{ userId, clientId, businessId }]));
    if (snapshot.user(userId)?.locked) throw preconditionFailed(ErrorCode.UserLocked, 'the user is locked');
    if (businessId !== null && !snapshot.canActFor(businessId, userId)) {
      throw preconditionFailed(ErrorCode.NotABusinessMember, 'the user does not belong to that business');
    }

    const { policy } = this.deps.settings;
    // The remember-me choice of this request holds from now on; it can shorten the session, never lengthen it.
    const current = session
      ? { ...session, rememberMe: command.rememberMe }
      : this.newSession(userId, clientId, command.rememberMe, now);
    const expiresAt = session ? renewedExpiry(session, policy, command.rememberMe) : current.expiresAt;
    if (expiresAt.getTime() <= now.getTime()) {
      throw preconditionFailed(
        ErrorCode.SessionExpired,
        'without remember-me the session is past its lifetime',
      );
    }
    const authorities = resolveAuthorities(
      { userId, clientId, businessId, authLevel: current.authLevel },
      snapshot,
    );
    const clientScopes = snapshot.client(clientId)?.scopes ?? [];
    const issued = await this.deps.issuer.issue(
      current,
      {
        businessId,
        authorities,
        scope: clientScopes.length > 0 ? clientScopes : this.deps.settings.defaultScope,
        expiresAt,
      },
      now,
      HTTP_CAUSE,
    );

    const refreshToken = command.rememberMe ? this.deps.ids.uuid() : undefined;
    const written = await this.deps.sessions.write({
      session: issued.session,
      expectedRevision: session ? session.revision : null,
      refreshToken: {
        issueHash: refreshToken === undefined ? null : this.deps.refreshTokens.hash(refreshToken),
        at: now,
      },
      update: issued.update,
    });
    if (!written) return undefined;
    // A write that changes nothing a fan-out decides on cannot hide a change from it.
    const changed =
      session === null ||
      session.businessId !== businessId ||
      !sameAuthorities(session.authorities, issued.session.authorities);
    const confirmed = changed ? await this.confirmAfterWrite(issued, businessId, now) : issued;
    return {
      accessToken: confirmed.accessToken,
      refreshToken,
      expiresAt: confirmed.session.tokenExpiresAt,
      scope: confirmed.session.scope,
    };
  }

  /**
   * This renewal changed the session (a new one, another business or other
   * authorities) from role facts read before its write. A change that committed
   * in between may have fanned out already without seeing this write: a new
   * session, or a session's new business, was not in its scope yet. (A session
   * it did find it re-issued or confirmed, which fails this write's
   * compare-and-set; see ApplyChangeUseCase.settle. Other authorities are
   * checked here as well, at the cost of a read renewals that only refresh
   * their token never pay.) So the facts are read again after the write, and
   * what changed meanwhile is applied as the fan-out would have (re-issued and
   * published, or revoked for a locked user), until a read after the last write
   * finds nothing to change; whichever of the two commits second then sees both.
   */
  private async confirmAfterWrite(
    issued: IssuedToken,
    requestedBusinessId: string | null,
    now: Date,
  ): Promise<IssuedToken> {
    let current = issued.session;
    /** The caller's token for `current`, unless another writer replaced it. */
    let held: IssuedToken | undefined = issued;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
      const { userId, clientId, businessId } = current;
      const snapshot = await this.deps.roles.load([{ userId, clientId, businessId }]);
      const decision = decideSession(current, snapshot, now);
      let written: IssuedToken | undefined;
      if (decision.kind === 'revoke') {
        if (await this.deps.sessions.write(revocation(current, decision.reason, now, HTTP_CAUSE))) {
          throw preconditionFailed(ErrorCode.UserLocked, 'the user is locked');
        }
      } else if (decision.kind === 'unchanged' && held) {
        written = held;
      } else {
        // Unchanged facts but a session another writer re-issued: a token of what it left,
        // which changes nothing and needs no further read.
        const claims = decision.kind === 'reissue' ? decision.claims : claimsOf(current);
        const next = await this.deps.issuer.issue(current, claims, now, HTTP_CAUSE);
        if (await this.deps.sessions.write(reissue(current, next))) {
          if (decision.kind === 'reissue') {
            current = next.session;
            held = next;
            continue;
          }
          written = next;
        }
      }
      if (written) {
        if (written.session.businessId !== requestedBusinessId) {
          throw preconditionFailed(ErrorCode.NotABusinessMember, 'the user does not belong to that business');
        }
        return written;
      }
      // Another writer (a fan-out) changed the session first: decide again on what it left.
      const reloaded = await this.deps.sessions.findById(current.id);
      if (!reloaded) throw preconditionFailed(ErrorCode.SessionNotFound, 'the session no longer exists');
      assertLive(reloaded, now);
      // A fan-out's confirmation moves the revision alone (every token and revocation moves the
      // claims version): the caller's token is still the session's.
      if (reloaded.claimsVersion !== current.claimsVersion) held = undefined;
      current = reloaded;
    }
    throw preconditionFailed(ErrorCode.ConcurrentRenewal, 'the session is being renewed concurrently; retry');
  }

  private async locate(
    command: RenewTokenCommand,
    caller: VerifiedToken,
    now: Date,
  ): Promise<Target | undefined> {
    const { token } = command;
    if (token === undefined) return this.locateForIdentityProvider(command, caller, now);
    if (JWT_SHAPE.test(token)) return this.locateByAccessToken(command, caller, token);
    if (REFRESH_TOKEN_SHAPE.test(token)) return this.locateByRefreshToken(command, caller, token, now);
    throw unauthenticated(ErrorCode.InvalidToken, 'token is neither an access token nor a refresh token');
  }

  private async locateByAccessToken(
    command: RenewTokenCommand,
    caller: VerifiedToken,
    token: string,
  ): Promise<Target> {
    const user = await verifyOr(this.deps.verifier, token, ErrorCode.InvalidToken, 'token is not valid');
    if (user.sessionId === undefined || user.userId === undefined) {
      throw unauthenticated(ErrorCode.InvalidToken, 'token is not a user token');
    }
    assertCallerMayRenew(caller, user.clientId, user.userId);
    // The session acts for the token's business: a token from AuthMe's promotion process that
    // carries another business than the session switches the session to it.
    const businessId = command.businessId ?? user.businessId;
    const { session, snapshot } = await this.sessionWithRoles.read(user.sessionId, {
      userId: user.userId,
      clientId: user.clientId,
      businessId,
    });
    if (!session)
      throw preconditionFailed(ErrorCode.SessionNotFound, 'the session of this token does not exist');
    if (session.userId !== user.userId || session.clientId !== user.clientId) {
      throw unauthenticated(ErrorCode.InvalidToken, 'token does not match its session');
    }
    assertMatches(command, session);
    return { session, snapshot, userId: session.userId, clientId: session.clientId, businessId };
  }

  private async locateByRefreshToken(
    command: RenewTokenCommand,
    caller: VerifiedToken,
    token: string,
    now: Date,
  ): Promise<Target | undefined> {
    const record = await this.deps.sessions.findByRefreshTokenHash(this.deps.refreshTokens.hash(token));
    const session = record ? await this.deps.sessions.findById(record.sessionId) : null;
    if (!record || !session)
      throw unauthenticated(ErrorCode.InvalidRefreshToken, 'refresh token is not valid');
    assertCallerMayRenew(caller, session.clientId, session.userId);
    if (record.rotatedAt !== null) {
      const withinGrace =
        record.latestRotated &&
        now.getTime() - record.rotatedAt.getTime() <= this.deps.settings.policy.refreshReuseGraceMs;
      if (!withinGrace) return this.refuseReuse(session, now);
    }
    assertMatches(command, session);
    return {
      session,
      userId: session.userId,
      clientId: session.clientId,
      businessId: command.businessId ?? session.businessId,
    };
  }

  /** A user's token as the caller stops working when its own session ends (revoked or expired). */
  private async assertCallerSessionLive(
    caller: VerifiedToken,
    target: Session | null,
    now: Date,
  ): Promise<void> {
    if (caller.sessionId === undefined || caller.sessionId === target?.id) return;
    const callerSession = await this.deps.sessions.findById(caller.sessionId);
    if (!callerSession || !isLive(callerSession, now)) {
      throw unauthenticated(ErrorCode.InvalidCallerToken, "the caller token's session has ended");
    }
  }

  /** A rotated refresh token presented again: someone else may hold the family. End the session. */
  private async refuseReuse(session: Session, now: Date): Promise<undefined> {
    if (isLive(session, now)) {
      const written = await this.deps.sessions.write(
        revocation(session, RevocationReason.RefreshTokenReused, now, HTTP_CAUSE),
      );
      if (!written) return undefined;
    }
    throw preconditionFailed(
      ErrorCode.RefreshTokenReused,
      'refresh token was already used; the session is revoked',
    );
  }

  private async locateForIdentityProvider(
    command: RenewTokenCommand,
    caller: VerifiedToken,
    now: Date,
  ): Promise<Target> {
    const { userId, clientId } = command;
    if (userId === undefined || clientId === undefined) {
      throw badRequest(ErrorCode.MissingParameter, 'token is required, unless userId and clientId are given');
    }
    if (caller.userId !== undefined) {
      throw forbidden(
        ErrorCode.ApplicationTokenRequired,
        "starting a user's session needs the application's own token",
      );
    }
    if (clientId !== caller.clientId) {
      throw forbidden(ErrorCode.NotTheTokenClient, 'an application may only start sessions for itself');
    }
    const session = await this.deps.sessions.findContinuable(userId, clientId, now);
    return { session, userId, clientId, businessId: command.businessId ?? session?.businessId ?? null };
  }

  private newSession(userId: string, clientId: string, rememberMe: boolean, now: Date): Session {
    return {
      id: this.deps.ids.uuid(),
      userId,
      clientId,
      businessId: null,
      authLevel: this.deps.settings.identityProviderAuthLevel,
      rememberMe,
      status: 'ACTIVE',
      revokedReason: null,
      revokedAt: null,
      createdAt: now,
      expiresAt: initialExpiry(this.deps.settings.policy, rememberMe, now),
      claimsVersion: 0,
      revision: 0,
      authorities: [],
      scope: [],
      tokenId: '',
      tokenExpiresAt: now,
    };
  }
}

/**
 * The caller must be the client the token was issued to; a caller presenting a
 * user's token as its own credential may renew only that user's tokens.
 */
function assertCallerMayRenew(caller: VerifiedToken, clientId: string, userId: string): void {
  if (clientId !== caller.clientId) {
    throw forbidden(ErrorCode.NotTheTokenClient, 'the caller is not the client the token was issued to');
  }
  if (caller.userId !== undefined && caller.userId !== userId) {
    throw forbidden(ErrorCode.NotTheTokenClient, "a user's token may only renew that user's tokens");
  }
}

/** What a session's latest token says, to issue it again as it is. */
function claimsOf(session: Session): SessionClaims {
  return {
    businessId: session.businessId,
    authorities: session.authorities,
    scope: session.scope,
    expiresAt: session.expiresAt,
  };
}

function assertLive(session: Session, now: Date): void {
  if (session.status === 'REVOKED')
    throw preconditionFailed(ErrorCode.SessionRevoked, 'the session was revoked');
  if (!isLive(session, now))
    throw preconditionFailed(ErrorCode.SessionExpired, 'the session is past its lifetime');
}

/** userId and clientId alongside a token must name the token's own session. */
function assertMatches(command: RenewTokenCommand, session: Session): void {
  const mismatch = (name: string) =>
    badRequest(ErrorCode.ConflictingParameters, `${name} does not match the token's session`);
  if (command.userId !== undefined && command.userId !== session.userId) throw mismatch('userId');
  if (command.clientId !== undefined && command.clientId !== session.clientId) throw mismatch('clientId');
}
