import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrismaService } from '@iam/persistence';
import { createTestDatabase, testPool, type TestDatabase } from '../support/database';

/**
 * The SQL migrations are written by hand (Prisma's schema engine cannot be
 * downloaded here). Writing and reading every model through the client
 * generated from schema.prisma fails on any table, column, type or relation
 * that differs between the two.
 */
describe('schema.prisma and the SQL migrations agree (real PostgreSQL)', () => {
  let database: TestDatabase;
  let pool: Pool;
  let prisma: PrismaService;

  beforeAll(async () => {
    database = await createTestDatabase('drift');
    pool = testPool(database.url, 2);
    prisma = new PrismaService(pool);
  });
  afterAll(async () => {
    await prisma.$disconnect();
    await pool.end();
    await database.drop();
  });

  const at = new Date('2026-11-28T10:00:00.123Z');

  it('round-trips the role model', async () => {
    await prisma.user.create({
      data: {
        id: 'u1',
        locked: true,
        lockChangedAt: at,
        lockEventId: 'e0',
        roles: { create: { role: 'USER', present: true, changedAt: at, eventId: 'e1' } },
      },
    });
    await prisma.business.create({
      data: {
        id: 'b1',
        active: false,
        statusChangedAt: at,
        statusEventId: 'e2',
        roles: { create: { role: 'PREMIUM', present: false, changedAt: at, eventId: 'e3' } },
        memberships: {
          create: {
            userId: 'u1',
            present: true,
            changedAt: at,
            eventId: 'e4',
            roles: { create: { role: 'BUSINESSOWNER', present: true, changedAt: at, eventId: 'e5' } },
          },
        },
      },
    });
    await prisma.client.create({
      data: {
        id: 'c1',
        secretHash: 'scrypt$x',
        serviceId: 's1',
        scopes: ['READ'],
        roles: { create: { role: 'CLI-1STPARTY', present: true, changedAt: at, eventId: 'e6' } },
      },
    });
    await prisma.group.create({ data: { id: 'g2' } });
    await prisma.group.create({
      data: {
        id: 'g1',
        deletedAt: at,
        deletedEventId: 'e7',
        roles: { create: { role: 'ADMIN', present: true, changedAt: at, eventId: 'e8' } },
        members: {
          create: { memberType: 'SERVICE', memberId: 's1', present: true, changedAt: at, eventId: 'e9' },
        },
        dependencies: { create: { dependsOnGroupId: 'g2', present: true, changedAt: at, eventId: 'e10' } },
      },
    });

    const user = await prisma.user.findUniqueOrThrow({
      where: { id: 'u1' },
      include: {
        roles: true,
        memberships: { include: { roles: true, business: { include: { roles: true } } } },
      },
    });
    expect(user.lockChangedAt).toEqual(at);
    expect(user.roles[0]).toMatchObject({ role: 'USER', present: true, eventId: 'e1' });
    expect(user.memberships[0]?.roles[0]?.role).toBe('BUSINESSOWNER');
    expect(user.memberships[0]?.business.roles[0]).toMatchObject({ role: 'PREMIUM', present: false });

    const client = await prisma.client.findUniqueOrThrow({ where: { id: 'c1' }, include: { roles: true } });
    expect(client).toMatchObject({ serviceId: 's1', scopes: ['READ'], secretHash: 'scrypt$x' });

    const group = await prisma.group.findUniqueOrThrow({
      where: { id: 'g1' },
      include: { roles: true, members: true, dependencies: true, dependents: true },
    });
    expect(group.members[0]).toMatchObject({ memberType: 'SERVICE', memberId: 's1' });
    expect(group.dependencies[0]?.dependsOnGroupId).toBe('g2');
    expect(
      (await prisma.group.findUniqueOrThrow({ where: { id: 'g2' }, include: { dependents: true } }))
        .dependents,
    ).toHaveLength(1);
  });

  it('round-trips sessions, refresh tokens and the exactly-once tables', async () => {
    const sessionId = '6f1c3a52-8a0e-4f8e-9a51-1c2b3d4e5f60';
    await prisma.session.create({
      data: {
        id: sessionId,
        userId: 'u1',
        clientId: 'c1',
        businessId: 'b1',
        authLevel: 'AUTH-BASIC',
        rememberMe: true,
        status: 'REVOKED',
        revokedReason: 'user-locked',
        revokedAt: at,
        expiresAt: at,
        claimsVersion: 3,
        authorities: ['ROLE_USER'],
        scope: ['READ'],
        tokenId: 'j1',
        tokenExpiresAt: at,
        refreshTokens: { create: { tokenHash: 'h1', rotatedAt: at } },
      },
    });
    const session = await prisma.session.findUniqueOrThrow({
      where: { id: sessionId },
      include: { refreshTokens: true },
    });
    expect(session).toMatchObject({ status: 'REVOKED', claimsVersion: 3, authorities: ['ROLE_USER'] });
    expect(session.refreshTokens[0]?.rotatedAt).toEqual(at);

    await prisma.processedEvent.create({
      data: {
        eventId: 'e1',
        type: 'iam.user.role.granted',
        subject: 'u1',
        eventTime: at,
        topic: 't',
        partition: 3,
        offset: 12n,
        status: 'APPLIED',
        scope: { userIds: ['u1'] },
        completedAt: at,
      },
    });
    await prisma.deadLetter.create({
      data: { topic: 't', partition: 0, offset: 7n, reason: 'not-json', eventId: null, redrivenAt: at },
    });
    const message = await prisma.outboxMessage.create({
      data: {
        topic: 't.out',
        messageKey: new Uint8Array([1, 2]),
        value: new Uint8Array([3]),
        headers: [['h', 'AQ==']],
        sessionId,
        claimsVersion: 3,
        batchId: 9n,
      },
    });
    expect(message.id).toBeTypeOf('bigint');
    await expect(
      prisma.outboxMessage.create({
        data: { topic: 't.out', value: new Uint8Array([3]), sessionId, claimsVersion: 3 },
      }),
    ).rejects.toThrow();
    expect((await prisma.outboxRelayState.findUniqueOrThrow({ where: { id: 1 } })).lastBatchId).toBe(0n);
    await prisma.signingKey.create({
      data: {
        kid: 'k1',
        algorithm: 'RS512',
        publicJwk: { kty: 'RSA' },
        status: 'RETIRED',
        retiredAt: at,
        publishedUntil: at,
      },
    });
    expect((await prisma.signingKey.findUniqueOrThrow({ where: { kid: 'k1' } })).publicJwk).toEqual({
      kty: 'RSA',
    });
    // Unknown client ids are limited too: no relation to clients.
    const failure = await prisma.clientLoginFailure.create({
      data: { clientId: 'no-such-client', failedAt: at },
    });
    expect(failure.id).toBeTypeOf('bigint');
    expect(
      await prisma.clientLoginFailure.findMany({ where: { clientId: 'no-such-client', failedAt: at } }),
    ).toHaveLength(1);
  });
});
