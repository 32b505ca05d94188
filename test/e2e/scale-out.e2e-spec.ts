import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Application, authorities } from '../support/applications';
import { events, publish, type InboundCloudEvent } from '../support/events';
import { waitForSharedTopic } from '../support/kafka';
import { createDeployment, ServiceInstance, type Deployment } from '../support/service';
import { tearDownSuite } from '../support/suite';
import { SessionUpdateLog, waitUntilConsumed, type TokenRenewedData } from '../support/session-updates';
import { seededRandom } from '../support/seeded-random';

const BASE_ROLES = ['CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY', 'AUTH-BASIC'];
const USERS = Array.from({ length: 40 }, (_, i) => `scale-user-${String(i).padStart(2, '0')}`);
const USER_ROLES = ['R1', 'R2', 'R3', 'R4', 'R5'];
const GROUPS = ['scale-g1', 'scale-g2', 'scale-g3'];
const groupRole = (groupId: string) => `ROLE-OF-${groupId.toUpperCase()}`;
const STREAM_LENGTH = 400;
const CHUNK = 50;

interface AppliedLine {
  topic: string;
  partition: number;
  offset: string;
  applied: string;
}

function appliedLines(instance: ServiceInstance): AppliedLine[] {
  return instance.logs
    .filter((line) => line.includes('"msg":"event applied"'))
    .map((line) => JSON.parse(line) as AppliedLine);
}

/**
 * Two instances of one deployment share the input partitions; one is stopped
 * in the middle of a stream of changes and the other takes over. Every session
 * ends with exactly the authorities the events imply, and its tokens on the
 * topic are numbered 1..N without a gap or a duplicate.
 */
describe('two instances share the work and hand it over (e2e)', () => {
  let deployment: Deployment;
  let first: ServiceInstance;
  let second: ServiceInstance;
  let updates: SessionUpdateLog;

  beforeAll(async () => {
    deployment = await createDeployment('scaleout', { SESSION_UPDATE_PLAINTEXT: 'true', LOG_LEVEL: 'debug' });
    first = await ServiceInstance.start(deployment);
    second = await ServiceInstance.start(deployment);
    updates = await SessionUpdateLog.open(deployment);
  });
  afterAll(() => tearDownSuite({ deployment, services: [first, second], readers: [updates] }));

  it('every session ends with exactly the expected authorities, versions 1..N in order', async () => {
    // Both instances hold input partitions (4 per topic) before the stream starts.
    const roleShares = await waitForSharedTopic(deployment.groupId, deployment.topics.roleChanges, 2);
    expect(roleShares.flat().sort()).toEqual([0, 1, 2, 3]);

    let app = await Application.register(first, 'scale-app');
    const sessions = new Map<string, string>();
    for (const user of USERS) sessions.set(user, (await app.session(user)).claims.sid);

    // The groups carry one role each; memberships change during the stream.
    await publish(
      deployment.topics.roleChanges,
      GROUPS.map((groupId) => events.groupRoleGranted(groupId, groupRole(groupId))),
    );

    // The stream, and the facts it leaves behind (per subject in order; subjects are independent).
    const next = seededRandom(20_260_101);
    const userRoles = new Map(USERS.map((user) => [user, new Set<string>()]));
    const memberships = new Map(GROUPS.map((groupId) => [groupId, new Set<string>()]));
    const stream: InboundCloudEvent[] = [];
    for (let i = 0; i < STREAM_LENGTH; i += 1) {
      const user = USERS[Math.floor(next() * USERS.length)]!;
      const grant = next() < 0.6;
      if (next() < 0.75) {
        const role = USER_ROLES[Math.floor(next() * USER_ROLES.length)]!;
        stream.push(grant ? events.userRoleGranted(user, role) : events.userRoleRevoked(user, role));
        if (grant) userRoles.get(user)!.add(role);
        else userRoles.get(user)!.delete(role);
      } else {
        const groupId = GROUPS[Math.floor(next() * GROUPS.length)]!;
        stream.push(
          grant
            ? events.groupMemberAdded(groupId, 'USER', user)
            : events.groupMemberRemoved(groupId, 'USER', user),
        );
        if (grant) memberships.get(groupId)!.add(user);
        else memberships.get(groupId)!.delete(user);
      }
    }
    const expected = new Map(
      USERS.map((user) => [
        user,
        authorities(
          ...BASE_ROLES,
          ...userRoles.get(user)!,
          ...GROUPS.filter((groupId) => memberships.get(groupId)!.has(user)).map(groupRole),
        ),
      ]),
    );

    // Publish in chunks; half-way through, the first instance is stopped while the rest keeps coming.
    let stopping: Promise<number | null> | undefined;
    let processedByFirst: AppliedLine[] = [];
    for (let i = 0; i < stream.length; i += CHUNK) {
      if (i === STREAM_LENGTH / 2) {
        processedByFirst = appliedLines(first);
        stopping = first.stop('SIGTERM');
      }
      await publish(deployment.topics.roleChanges, stream.slice(i, i + CHUNK));
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await stopping).toBe(0);
    expect(first.logs.some((line) => line.includes('"msg":"stopped"'))).toBe(true);

    await waitUntilConsumed(deployment, 60_000);
    while ((await updates.reader.countArrivingWithin(2_000)) > 0) {
      // The outbox relay (now the second instance's) is still publishing.
    }

    // Both instances did part of the work; the second took over the first one's partitions.
    const byFirst = appliedLines(first).filter((line) => line.topic === deployment.topics.roleChanges);
    const bySecond = appliedLines(second).filter((line) => line.topic === deployment.topics.roleChanges);
    expect(processedByFirst.length).toBeGreaterThan(0);
    expect(bySecond.length).toBeGreaterThan(0);
    const firstPartitions = new Set(byFirst.map((line) => line.partition));
    for (const partition of firstPartitions) {
      const lastByFirst = Math.max(
        ...byFirst.filter((line) => line.partition === partition).map((line) => Number(line.offset)),
      );
      expect(
        bySecond.some((line) => line.partition === partition && Number(line.offset) > lastByFirst),
        `partition ${partition} taken over`,
      ).toBe(true);
    }
    // Between them, every record of the role topic was processed.
    const origins = new Set([...byFirst, ...bySecond].map((line) => `${line.partition}/${line.offset}`));
    expect(origins.size).toBe(STREAM_LENGTH + GROUPS.length);

    // Per session: versions 1..N in topic order, each token the previous one plus its own changes.
    for (const [user, sessionId] of sessions) {
      const tokens = updates.forSession(sessionId).map((update) => {
        expect(update.record.key).toBe(user);
        expect(update.event.type).toBe('iam.session.token-renewed');
        return update.event.data as TokenRenewedData;
      });
      expect(
        tokens.map((data) => data.claimsVersion),
        user,
      ).toEqual(Array.from({ length: tokens.length }, (_, i) => i + 1));
      for (let i = 1; i < tokens.length; i += 1) {
        const previous = tokens[i - 1]!;
        const current = tokens[i]!;
        expect(current.cause.kind, `${user} v${current.claimsVersion}`).toBe('event');
        expect(current.added.length + current.removed.length).toBeGreaterThan(0);
        const rebuilt = previous.authorities
          .filter((authority) => !current.removed.includes(authority))
          .concat(current.added)
          .sort();
        expect(rebuilt, `${user} v${current.claimsVersion}`).toEqual(current.authorities);
      }
      expect(tokens.at(-1)!.authorities, user).toEqual(expected.get(user));
    }

    // And the next renewal, on the surviving instance, agrees.
    app = await app.on(second);
    for (const [user, sessionId] of sessions) {
      const last = updates.latestToken(sessionId)!.data;
      const renewed = await app.session(user);
      expect(renewed.claims, user).toMatchObject({
        sid: sessionId,
        authorities: expected.get(user),
        claims_version: last.claimsVersion + 1,
      });
    }
  });
});
