import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Application, authorities } from '../support/applications';
import { events, publish, type InboundCloudEvent } from '../support/events';
import { createDeployment, ServiceInstance, type Deployment } from '../support/service';
import { tearDownSuite } from '../support/suite';
import { SessionUpdateLog, waitUntilConsumed, type SessionRevokedData } from '../support/session-updates';
import { expectReissued } from '../support/token-assertions';

/** What every session of a first-party application holds before any event: client roles and AUTH-BASIC. */
const BASE_ROLES = ['CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY', 'AUTH-BASIC'];
const BASE = authorities(...BASE_ROLES);
const withRoles = (...roles: string[]) => authorities(...BASE_ROLES, ...roles);

/**
 * Every inbound event type, end to end: the built service consumes it from
 * Kafka, changes the live sessions it affects and pushes their new tokens to
 * the session-update topic; the next HTTP renewal continues from there.
 */
describe('role and business change events re-issue live sessions (e2e)', () => {
  let deployment: Deployment;
  let service: ServiceInstance;
  let updates: SessionUpdateLog;
  let app: Application;

  const roleTopic = () => deployment.topics.roleChanges;
  const businessTopic = () => deployment.topics.businessChanges;
  const context = (client: Application = app) => ({ deployment, service, updates, app: client });

  /** Waits until the events are consumed, then returns the sessions they pushed a token or revocation to. */
  async function sessionsUpdatedBy(...sent: InboundCloudEvent[]): Promise<string[]> {
    await waitUntilConsumed(deployment);
    // The outbox relay publishes what the consumer committed within moments.
    await new Promise((r) => setTimeout(r, 750));
    const ids = new Set(sent.map((event) => event.id));
    return updates
      .all()
      .filter(
        (update) => update.event.data.cause.kind === 'event' && ids.has(update.event.data.cause.eventId),
      )
      .map((update) => update.event.data.sessionId)
      .sort();
  }

  beforeAll(async () => {
    deployment = await createDeployment('roleevents');
    service = await ServiceInstance.start(deployment);
    updates = await SessionUpdateLog.open(deployment);
    app = await Application.register(service, 'web-app');
  });
  afterAll(() => tearDownSuite({ deployment, service, readers: [updates] }));

  it('user role granted, then revoked: the session gains and loses the role', async () => {
    const user = 'user-role';
    const start = await app.session(user);
    expect(start.claims.authorities).toEqual(BASE);
    expect(start.claims.claims_version).toBe(1);

    const granted = events.userRoleGranted(user, 'PERSON');
    await publish(roleTopic(), [granted]);
    const afterGrant = await expectReissued(context(), granted, {
      before: start.claims,
      authorities: withRoles('PERSON'),
    });

    const revoked = events.userRoleRevoked(user, 'PERSON');
    await publish(roleTopic(), [revoked]);
    await expectReissued(context(), revoked, { before: afterGrant, authorities: BASE });
  });

  it('client role granted, then revoked: every session of that client, and only those, is re-issued', async () => {
    const reports = await Application.register(service, 'reports-app');
    const first = await reports.session('client-user-1');
    const second = await reports.session('client-user-2');
    const other = await app.session('client-user-3');

    // A role the operator did not register (CLI registration is newer than the test events' times).
    const granted = events.clientRoleGranted('reports-app', 'CLI-REPORTS');
    await publish(roleTopic(), [granted]);
    const firstAfter = await expectReissued(context(reports), granted, {
      before: first.claims,
      authorities: withRoles('CLI-REPORTS'),
    });
    const secondAfter = await expectReissued(context(reports), granted, {
      before: second.claims,
      authorities: withRoles('CLI-REPORTS'),
    });
    expect(await sessionsUpdatedBy(granted)).toEqual([first.claims.sid, second.claims.sid].sort());
    await updates.waitForVersion(other.claims.sid, 1);
    expect(updates.forSession(other.claims.sid)).toHaveLength(1);

    const revoked = events.clientRoleRevoked('reports-app', 'CLI-REPORTS');
    await publish(roleTopic(), [revoked]);
    await expectReissued(context(reports), revoked, { before: firstAfter, authorities: BASE });
    await expectReissued(context(reports), revoked, { before: secondAfter, authorities: BASE });
    expect(await sessionsUpdatedBy(revoked)).toEqual([first.claims.sid, second.claims.sid].sort());
  });

  it('group role granted, then revoked: members of the group gain and lose it; joining a role-less group changes nothing', async () => {
    const user = 'group-role-user';
    const start = await app.session(user);
    const joined = events.groupMemberAdded('readers', 'USER', user);
    const granted = events.groupRoleGranted('readers', 'GROUP-READER');
    await publish(roleTopic(), [joined, granted]);
    const afterGrant = await expectReissued(context(), granted, {
      before: start.claims,
      authorities: withRoles('GROUP-READER'),
    });
    expect(await sessionsUpdatedBy(joined)).toEqual([]);

    const revoked = events.groupRoleRevoked('readers', 'GROUP-READER');
    await publish(roleTopic(), [revoked]);
    await expectReissued(context(), revoked, { before: afterGrant, authorities: BASE });
  });

  it('group member (USER) added, then removed', async () => {
    const user = 'group-member-user';
    const start = await app.session(user);
    const granted = events.groupRoleGranted('club', 'CLUB');
    const added = events.groupMemberAdded('club', 'USER', user);
    await publish(roleTopic(), [granted, added]);
    const afterAdd = await expectReissued(context(), added, {
      before: start.claims,
      authorities: withRoles('CLUB'),
    });
    expect(await sessionsUpdatedBy(granted)).toEqual([]);

    const removed = events.groupMemberRemoved('club', 'USER', user);
    await publish(roleTopic(), [removed]);
    await expectReissued(context(), removed, { before: afterAdd, authorities: BASE });
  });

  it('group member (BUSINESS) added, then removed: sessions acting for the business, and only those', async () => {
    const business = 'biz-partner';
    await publish(businessTopic(), [
      events.businessMemberAdded(business, 'partner-user-1', ['BUSINESSUSER']),
      events.businessMemberAdded(business, 'partner-user-2', ['BUSINESSUSER']),
    ]);
    const acting = await app.sessionEventually('partner-user-1', { businessId: business });
    expect(acting.claims.business_id).toBe(business);
    expect(acting.claims.authorities).toEqual(withRoles('BUSINESS', 'BUSINESSUSER'));
    const personal = await app.session('partner-user-2');
    expect(personal.claims.business_id).toBeNull();

    const granted = events.groupRoleGranted('partners', 'PARTNER');
    const added = events.groupMemberAdded('partners', 'BUSINESS', business);
    await publish(roleTopic(), [granted, added]);
    const afterAdd = await expectReissued(context(), added, {
      before: acting.claims,
      authorities: withRoles('BUSINESS', 'BUSINESSUSER', 'PARTNER'),
    });
    expect(await sessionsUpdatedBy(granted, added)).toEqual([acting.claims.sid]);

    const removed = events.groupMemberRemoved('partners', 'BUSINESS', business);
    await publish(roleTopic(), [removed]);
    await expectReissued(context(), removed, {
      before: afterAdd,
      authorities: withRoles('BUSINESS', 'BUSINESSUSER'),
    });
    expect(await sessionsUpdatedBy(removed)).toEqual([acting.claims.sid]);
  });

  it('group member (SERVICE) added, then removed: sessions of the clients of that service, and only those', async () => {
    const billing = await Application.register(service, 'billing-web', { service: 'billing-service' });
    const user = 'service-user';
    const viaService = await billing.session(user);
    const viaOther = await app.session(user);
    expect(viaService.claims.sid).not.toBe(viaOther.claims.sid);

    const granted = events.groupRoleGranted('billing-group', 'BILLING');
    const added = events.groupMemberAdded('billing-group', 'SERVICE', 'billing-service');
    await publish(roleTopic(), [granted, added]);
    const afterAdd = await expectReissued(context(billing), added, {
      before: viaService.claims,
      authorities: withRoles('BILLING'),
    });
    expect(await sessionsUpdatedBy(granted, added)).toEqual([viaService.claims.sid]);

    const removed = events.groupMemberRemoved('billing-group', 'SERVICE', 'billing-service');
    await publish(roleTopic(), [removed]);
    await expectReissued(context(billing), removed, { before: afterAdd, authorities: BASE });
    expect(await sessionsUpdatedBy(removed)).toEqual([viaService.claims.sid]);

    // A client registered without a service is a service of its own.
    const solo = await Application.register(service, 'solo-app');
    const viaSolo = await solo.session(user);
    const soloAdded = events.groupMemberAdded('billing-group', 'SERVICE', 'solo-app');
    await publish(roleTopic(), [soloAdded]);
    await expectReissued(context(solo), soloAdded, {
      before: viaSolo.claims,
      authorities: withRoles('BILLING'),
    });
    expect(await sessionsUpdatedBy(soloAdded)).toEqual([viaSolo.claims.sid]);
  });

  it('group dependencies along a chain g1 → g2 → g3: the roles of g3 reach the members of g1', async () => {
    const user = 'chain-user';
    const start = await app.session(user);
    // g2 → g3 with a role on each; nobody is a member yet, so nobody is re-issued.
    const g3Role = events.groupRoleGranted('chain-g3', 'G3');
    const g2Role = events.groupRoleGranted('chain-g2', 'G2');
    const g2DependsOnG3 = events.groupDependencyAdded('chain-g2', 'chain-g3');
    await publish(roleTopic(), [g3Role, g2Role, g2DependsOnG3]);
    expect(await sessionsUpdatedBy(g3Role, g2Role, g2DependsOnG3)).toEqual([]);

    // Joining g1 (no roles, no dependencies yet) changes nothing; linking g1 → g2 brings G2 and G3.
    const joined = events.groupMemberAdded('chain-g1', 'USER', user);
    const linked = events.groupDependencyAdded('chain-g1', 'chain-g2');
    await publish(roleTopic(), [joined, linked]);
    let claims = await expectReissued(context(), linked, {
      before: start.claims,
      authorities: withRoles('G2', 'G3'),
    });
    expect(await sessionsUpdatedBy(joined)).toEqual([]);

    // A role granted at the far end travels the whole chain.
    const g3Extra = events.groupRoleGranted('chain-g3', 'G3-EXTRA');
    await publish(roleTopic(), [g3Extra]);
    claims = await expectReissued(context(), g3Extra, {
      before: claims,
      authorities: withRoles('G2', 'G3', 'G3-EXTRA'),
    });

    // Cutting the middle link removes g3's roles from g1's members, and keeps g2's.
    const cut = events.groupDependencyRemoved('chain-g2', 'chain-g3');
    await publish(roleTopic(), [cut]);
    claims = await expectReissued(context(), cut, { before: claims, authorities: withRoles('G2') });

    const unlinked = events.groupDependencyRemoved('chain-g1', 'chain-g2');
    await publish(roleTopic(), [unlinked]);
    await expectReissued(context(), unlinked, { before: claims, authorities: BASE });
  });

  it('a dependency cycle grants every group on it once and hangs nothing', async () => {
    const user = 'cycle-user';
    const start = await app.session(user);
    const joined = events.groupMemberAdded('cycle-a', 'USER', user);
    const bRole = events.groupRoleGranted('cycle-b', 'CYCLE-B');
    await publish(roleTopic(), [joined, bRole]);
    expect(await sessionsUpdatedBy(joined, bRole)).toEqual([]);

    const aToB = events.groupDependencyAdded('cycle-a', 'cycle-b');
    await publish(roleTopic(), [aToB]);
    let claims = await expectReissued(context(), aToB, {
      before: start.claims,
      authorities: withRoles('CYCLE-B'),
    });

    // Closing the cycle b → a adds nothing the user lacks: no token.
    const bToA = events.groupDependencyAdded('cycle-b', 'cycle-a');
    await publish(roleTopic(), [bToA]);
    expect(await sessionsUpdatedBy(bToA)).toEqual([]);

    // Roles on either group of the cycle still reach the member; the consumer is not stuck.
    const aRole = events.groupRoleGranted('cycle-a', 'CYCLE-A');
    await publish(roleTopic(), [aRole]);
    claims = await expectReissued(context(), aRole, {
      before: claims,
      authorities: withRoles('CYCLE-A', 'CYCLE-B'),
    });
    const bRevoked = events.groupRoleRevoked('cycle-b', 'CYCLE-B');
    await publish(roleTopic(), [bRevoked]);
    await expectReissued(context(), bRevoked, { before: claims, authorities: withRoles('CYCLE-A') });
  });

  it('group deleted: its members and the members of groups depending on it lose its roles', async () => {
    const direct = await app.session('deleted-direct');
    const indirect = await app.session('deleted-indirect');
    await publish(roleTopic(), [
      events.groupRoleGranted('doomed', 'DOOMED'),
      events.groupMemberAdded('doomed', 'USER', 'deleted-direct'),
      events.groupDependencyAdded('dependent', 'doomed'),
      events.groupMemberAdded('dependent', 'USER', 'deleted-indirect'),
    ]);
    await updates.waitForVersion(direct.claims.sid, 2);
    await updates.waitForVersion(indirect.claims.sid, 2);
    const directBefore = await app.session('deleted-direct');
    const indirectBefore = await app.session('deleted-indirect');
    expect(directBefore.claims).toMatchObject({ sid: direct.claims.sid, authorities: withRoles('DOOMED') });
    expect(indirectBefore.claims).toMatchObject({
      sid: indirect.claims.sid,
      authorities: withRoles('DOOMED'),
    });

    // Facts about the group from before its deletion, arriving after it, stay deleted.
    const late = await app.session('deleted-late');
    const staleMember = events.groupMemberAdded('doomed', 'USER', 'deleted-late');
    const staleRole = events.groupRoleGranted('doomed', 'DOOMED-TOO');
    const deleted = events.groupDeleted('doomed');
    await publish(roleTopic(), [deleted]);
    await expectReissued(context(), deleted, { before: directBefore.claims, authorities: BASE });
    await expectReissued(context(), deleted, { before: indirectBefore.claims, authorities: BASE });
    expect(await sessionsUpdatedBy(deleted)).toEqual([direct.claims.sid, indirect.claims.sid].sort());

    await publish(roleTopic(), [staleMember, staleRole]);
    expect(await sessionsUpdatedBy(staleMember, staleRole)).toEqual([]);
    expect((await app.session('deleted-late')).claims).toMatchObject({
      sid: late.claims.sid,
      authorities: BASE,
    });
    expect((await app.session('deleted-direct')).claims.authorities).toEqual(BASE);
  });

  it('business role granted, then revoked: sessions acting for the business, and only those', async () => {
    const business = 'biz-roles';
    await publish(businessTopic(), [
      events.businessMemberAdded(business, 'biz-role-user-1', ['BUSINESSOWNER']),
      events.businessMemberAdded(business, 'biz-role-user-2', ['BUSINESSUSER']),
    ]);
    const acting = await app.sessionEventually('biz-role-user-1', { businessId: business });
    expect(acting.claims.authorities).toEqual(withRoles('BUSINESS', 'BUSINESSOWNER'));
    const personal = await app.session('biz-role-user-2');

    const granted = events.businessRoleGranted(business, 'PREMIUM');
    await publish(businessTopic(), [granted]);
    const afterGrant = await expectReissued(context(), granted, {
      before: acting.claims,
      authorities: withRoles('BUSINESS', 'BUSINESSOWNER', 'PREMIUM'),
    });
    expect(await sessionsUpdatedBy(granted)).toEqual([acting.claims.sid]);

    const revoked = events.businessRoleRevoked(business, 'PREMIUM');
    await publish(businessTopic(), [revoked]);
    await expectReissued(context(), revoked, {
      before: afterGrant,
      authorities: withRoles('BUSINESS', 'BUSINESSOWNER'),
    });
    expect(await sessionsUpdatedBy(revoked)).toEqual([acting.claims.sid]);
    expect(updates.forSession(personal.claims.sid)).toHaveLength(1);
  });

  it('business member added (new roles for a member) and removed (the session falls back to its own roles)', async () => {
    const business = 'biz-members';
    const user = 'biz-member-user';
    await publish(roleTopic(), [events.userRoleGranted(user, 'PERSON')]);
    await publish(roleTopic(), [
      events.groupRoleGranted('biz-members-group', 'VIA-BUSINESS'),
      events.groupMemberAdded('biz-members-group', 'BUSINESS', business),
    ]);
    await publish(businessTopic(), [
      events.businessRoleGranted(business, 'B-ROLE'),
      events.businessMemberAdded(business, user, ['BUSINESSUSER']),
    ]);
    await waitUntilConsumed(deployment);
    const acting = await app.sessionEventually(user, { businessId: business });
    const actingRoles = ['PERSON', 'BUSINESS', 'BUSINESSUSER', 'B-ROLE', 'VIA-BUSINESS'];
    expect(acting.claims.authorities).toEqual(withRoles(...actingRoles));

    // Added again with more roles: the membership's new role arrives.
    const promoted = events.businessMemberAdded(business, user, ['BUSINESSUSER', 'BUSINESSADMIN']);
    await publish(businessTopic(), [promoted]);
    const afterPromotion = await expectReissued(context(), promoted, {
      before: acting.claims,
      authorities: withRoles(...actingRoles, 'BUSINESSADMIN'),
    });

    // Removed: business, membership and business-group roles go; the user's own roles stay.
    const removed = events.businessMemberRemoved(business, user);
    await publish(businessTopic(), [removed]);
    const fallenBack = await expectReissued(context(), removed, {
      before: afterPromotion,
      businessId: null,
      authorities: withRoles('PERSON'),
    });
    expect(fallenBack.business_id).toBeNull();
    const refused = await app.renewForUser(user, { businessId: business });
    expect(refused.status).toBe(412);
    expect(await refused.json()).toEqual([{ code: 'NOT_A_BUSINESS_MEMBER', message: expect.any(String) }]);

    // A new member has no session acting for the business yet: nothing is pushed, and the
    // next renewal for that business carries the membership.
    const newcomer = 'biz-newcomer';
    const personal = await app.session(newcomer);
    const joined = events.businessMemberAdded(business, newcomer, ['BUSINESSUSER']);
    await publish(businessTopic(), [joined]);
    expect(await sessionsUpdatedBy(joined)).toEqual([]);
    const switched = await app.session(newcomer, { businessId: business });
    expect(switched.claims).toMatchObject({
      sid: personal.claims.sid,
      business_id: business,
      authorities: withRoles('BUSINESS', 'BUSINESSUSER', 'B-ROLE', 'VIA-BUSINESS'),
    });
  });

  it('member role granted, then revoked', async () => {
    const business = 'biz-member-roles';
    const user = 'member-role-user';
    await publish(businessTopic(), [events.businessMemberAdded(business, user, ['BUSINESSUSER'])]);
    const acting = await app.sessionEventually(user, { businessId: business });

    const granted = events.businessMemberRoleGranted(business, user, 'BUSINESSOWNER');
    await publish(businessTopic(), [granted]);
    const afterGrant = await expectReissued(context(), granted, {
      before: acting.claims,
      authorities: withRoles('BUSINESS', 'BUSINESSUSER', 'BUSINESSOWNER'),
    });

    const revoked = events.businessMemberRoleRevoked(business, user, 'BUSINESSUSER');
    await publish(businessTopic(), [revoked]);
    await expectReissued(context(), revoked, {
      before: afterGrant,
      authorities: withRoles('BUSINESS', 'BUSINESSOWNER'),
    });
  });

  it('a member removed and added again does not get back roles granted before the removal, nor stale ones', async () => {
    const business = 'biz-rejoin';
    const user = 'rejoin-user';
    await publish(businessTopic(), [
      events.businessMemberAdded(business, user, ['BUSINESSUSER']),
      events.businessMemberRoleGranted(business, user, 'BUSINESSADMIN'),
    ]);
    await waitUntilConsumed(deployment);
    const acting = await app.sessionEventually(user, { businessId: business });
    expect(acting.claims.authorities).toEqual(withRoles('BUSINESS', 'BUSINESSADMIN', 'BUSINESSUSER'));

    // In time order: a grant from before the removal (delivered late), the removal, the new addition.
    const staleGrant = events.businessMemberRoleGranted(business, user, 'BUSINESSOWNER');
    const removed = events.businessMemberRemoved(business, user);
    const rejoined = events.businessMemberAdded(business, user, ['BUSINESSUSER']);
    await publish(businessTopic(), [removed]);
    await expectReissued(context(), removed, { before: acting.claims, businessId: null, authorities: BASE });
    await publish(businessTopic(), [staleGrant, rejoined]);
    // The session fell back to the user; joining again does not switch it back.
    expect(await sessionsUpdatedBy(staleGrant, rejoined)).toEqual([]);
    const switched = await app.session(user, { businessId: business });
    expect(switched.claims).toMatchObject({
      sid: acting.claims.sid,
      business_id: business,
      authorities: withRoles('BUSINESS', 'BUSINESSUSER'),
    });
  });

  it('business deactivated: sessions acting for it fall back to the user acting for themself', async () => {
    const business = 'biz-closing';
    const user = 'closing-user';
    await publish(businessTopic(), [
      events.businessRoleGranted(business, 'CLOSING'),
      events.businessMemberAdded(business, user, ['BUSINESSOWNER']),
    ]);
    const acting = await app.sessionEventually(user, { businessId: business });
    expect(acting.claims.authorities).toEqual(withRoles('BUSINESS', 'BUSINESSOWNER', 'CLOSING'));

    const deactivated = events.businessDeactivated(business);
    await publish(businessTopic(), [deactivated]);
    await expectReissued(context(), deactivated, {
      before: acting.claims,
      businessId: null,
      authorities: BASE,
    });
    const refused = await app.renewForUser(user, { businessId: business });
    expect(refused.status).toBe(412);
  });

  it('user locked: the session is revoked and renewal refused; unlocked: the user can start a new session', async () => {
    const user = 'locked-user';
    const start = await app.session(user);

    // Built first, so older than the lock: arriving after it, it must not unlock the user.
    const staleUnlock = events.userUnlocked(user);
    const locked = events.userLocked(user);
    await publish(roleTopic(), [locked]);
    const [revocation] = await updates.waitForCause(locked.id);
    expect(revocation!.record.key).toBe(user);
    expect(revocation!.event).toMatchObject({
      specversion: '1.0',
      type: 'iam.session.revoked',
      source: '/iam/token-renewal',
      subject: start.claims.sid,
    });
    expect(revocation!.event.data as SessionRevokedData).toEqual({
      sessionId: start.claims.sid,
      userId: user,
      clientId: app.clientId,
      reason: 'user-locked',
      claimsVersion: start.claims.claims_version + 1,
      cause: { kind: 'event', eventId: locked.id, eventType: 'iam.user.locked' },
    });
    expect(await sessionsUpdatedBy(locked)).toEqual([start.claims.sid]);

    const withToken = await app.renewWithToken(start.response.accessToken);
    expect(withToken.status).toBe(412);
    expect(await withToken.json()).toEqual([{ code: 'SESSION_REVOKED', message: expect.any(String) }]);
    const withRefreshToken = await app.renewWithToken(start.response.refreshToken!);
    expect(withRefreshToken.status).toBe(412);
    const fresh = await app.renewForUser(user);
    expect(fresh.status).toBe(412);
    expect(await fresh.json()).toEqual([{ code: 'USER_LOCKED', message: expect.any(String) }]);

    await publish(roleTopic(), [staleUnlock]);
    expect(await sessionsUpdatedBy(staleUnlock)).toEqual([]);
    expect((await app.renewForUser(user)).status).toBe(412);

    const unlocked = events.userUnlocked(user);
    await publish(roleTopic(), [unlocked]);
    const restarted = await app.sessionEventually(user);
    expect(restarted.claims.sid).not.toBe(start.claims.sid);
    expect(restarted.claims).toMatchObject({ claims_version: 1, authorities: BASE, business_id: null });
    // The old session stays revoked; the unlock itself pushed nothing.
    expect((await app.renewWithToken(start.response.accessToken)).status).toBe(412);
    expect(await sessionsUpdatedBy(unlocked)).toEqual([]);
  });

  it("a burst of many users' events, fetched and applied together, still gives each session one token per event, caused by it, in order", async () => {
    const users = Array.from({ length: 24 }, (_, index) => `burst-user-${index}`);
    const sessions = new Map<string, string>();
    for (const user of users) sessions.set(user, (await app.session(user)).claims.sid);
    // Three rounds over every user: grant, revoke, grant; each event changes its user's authorities.
    const burst: InboundCloudEvent[] = [];
    const rounds = [
      (user: string) => events.userRoleGranted(user, 'BURST-A'),
      (user: string) => events.userRoleRevoked(user, 'BURST-A'),
      (user: string) => events.userRoleGranted(user, 'BURST-B'),
    ];
    for (const round of rounds) for (const user of users) burst.push(round(user));
    await publish(roleTopic(), burst);

    for (const user of users) {
      const sid = sessions.get(user)!;
      await updates.waitForVersion(sid, 1 + rounds.length);
      const tokens = updates.forSession(sid).map((update) => update.event.data);
      expect({ user, versions: tokens.map((token) => token.claimsVersion) }).toEqual({
        user,
        versions: [1, 2, 3, 4],
      });
      expect(tokens.slice(1).map((token) => token.cause)).toEqual(
        burst
          .filter((event) => event.data.userId === user)
          .map((event) => ({ kind: 'event', eventId: event.id, eventType: event.type })),
      );
      expect(tokens.at(-1)).toMatchObject({ authorities: withRoles('BURST-B') });
    }
  });

  it('an event that changes nothing publishes nothing', async () => {
    const user = 'noop-user';
    const start = await app.session(user);
    const granted = events.userRoleGranted(user, 'HELD');
    await publish(roleTopic(), [granted]);
    const claims = await expectReissued(context(), granted, {
      before: start.claims,
      authorities: withRoles('HELD'),
    });

    await updates.waitForVersion(start.claims.sid, claims.claims_version);
    const before = updates.forSession(start.claims.sid).length;
    const grantedAgain = events.userRoleGranted(user, 'HELD');
    const revokedUnheld = events.userRoleRevoked(user, 'NEVER-HELD');
    const groupWithoutMembers = events.groupRoleGranted('empty-group', 'NOBODY');
    const businessWithoutSessions = events.businessRoleGranted('biz-empty', 'NOBODY');
    await publish(roleTopic(), [grantedAgain, revokedUnheld, groupWithoutMembers]);
    await publish(businessTopic(), [businessWithoutSessions]);
    expect(
      await sessionsUpdatedBy(grantedAgain, revokedUnheld, groupWithoutMembers, businessWithoutSessions),
    ).toEqual([]);
    expect(updates.forSession(start.claims.sid)).toHaveLength(before);
    const next = await app.session(user);
    expect(next.claims).toMatchObject({
      authorities: withRoles('HELD'),
      claims_version: claims.claims_version + 1,
    });
  });

  it('a stale event (older time) after a newer one does not resurrect the fact', async () => {
    const user = 'stale-user';
    const start = await app.session(user);
    // Built in time order: the stale grant is the oldest of the three.
    const staleGrant = events.userRoleGranted(user, 'STALE');
    const grant = events.userRoleGranted(user, 'STALE');
    const revoke = events.userRoleRevoked(user, 'STALE');
    expect(Date.parse(staleGrant.time)).toBeLessThan(Date.parse(revoke.time));

    await publish(roleTopic(), [grant]);
    let claims = await expectReissued(context(), grant, {
      before: start.claims,
      authorities: withRoles('STALE'),
    });
    await publish(roleTopic(), [revoke]);
    claims = await expectReissued(context(), revoke, { before: claims, authorities: BASE });

    await publish(roleTopic(), [staleGrant]);
    expect(await sessionsUpdatedBy(staleGrant)).toEqual([]);
    const next = await app.session(user);
    expect(next.claims).toMatchObject({ authorities: BASE, claims_version: claims.claims_version + 1 });

    // Likewise an older membership removal arriving after a newer addition is ignored.
    const staleRemoval = events.groupMemberRemoved('stale-group', 'USER', user);
    const addition = events.groupMemberAdded('stale-group', 'USER', user);
    const role = events.groupRoleGranted('stale-group', 'STALE-GROUP');
    await publish(roleTopic(), [addition, role]);
    claims = await expectReissued(context(), role, {
      before: next.claims,
      authorities: withRoles('STALE-GROUP'),
    });
    await publish(roleTopic(), [staleRemoval]);
    expect(await sessionsUpdatedBy(staleRemoval)).toEqual([]);
    expect((await app.session(user)).claims.authorities).toEqual(withRoles('STALE-GROUP'));
  });
  it('event times compare at full precision (microseconds, UTC offsets); equal times fall back to the event id', async () => {
    const user = 'precise-user';
    const start = await app.session(user);
    const at = (time: string, id?: string) => ({ time, ...(id !== undefined ? { id } : {}) });
    const granted = { ...events.userRoleGranted(user, 'PRECISE'), ...at('2026-06-01T00:00:00.000002Z') };
    await publish(roleTopic(), [granted]);
    let claims = await expectReissued(context(), granted, {
      before: start.claims,
      authorities: withRoles('PRECISE'),
    });

    // One microsecond older than the grant (the same millisecond): stale.
    const olderRevoke = { ...events.userRoleRevoked(user, 'PRECISE'), ...at('2026-06-01T00:00:00.000001Z') };
    await publish(roleTopic(), [olderRevoke]);
    expect(await sessionsUpdatedBy(olderRevoke)).toEqual([]);

    // Written with an offset, one microsecond newer: applied.
    const newerRevoke = {
      ...events.userRoleRevoked(user, 'PRECISE'),
      ...at('2026-06-01T02:00:00.000003+02:00'),
    };
    await publish(roleTopic(), [newerRevoke]);
    claims = await expectReissued(context(), newerRevoke, { before: claims, authorities: BASE });

    // The same instant as the revocation: the greater event id wins, whichever arrives last.
    const tieLoser = {
      ...events.userRoleGranted(user, 'PRECISE'),
      ...at('2026-06-01T00:00:00.000003Z', `${'0'.repeat(8)}-tie-loser`),
    };
    const tieWinner = {
      ...events.userRoleGranted(user, 'PRECISE'),
      ...at('2026-06-01T01:00:00.000003+01:00', `${'z'.repeat(8)}-tie-winner`),
    };
    expect(tieLoser.id < newerRevoke.id && newerRevoke.id < tieWinner.id).toBe(true);
    await publish(roleTopic(), [tieLoser]);
    expect(await sessionsUpdatedBy(tieLoser)).toEqual([]);
    await publish(roleTopic(), [tieWinner]);
    await expectReissued(context(), tieWinner, { before: claims, authorities: withRoles('PRECISE') });
  });
});
