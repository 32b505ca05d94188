import {
  UnknownSigningKeyError,
  type JsonObject,
  type NewSigningKey,
  type SigningKeyRecord,
  type SigningKeyRegistry,
} from '@iam/tokens';
import type { PrismaService } from '../database/prisma.service';
import type { SigningKey } from '../generated/prisma/client';

function toRecord(row: SigningKey): SigningKeyRecord {
  const jwk = row.publicJwk;
  // The column is JSONB: anything but an object means the row was not written by us.
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
    throw new Error(`signing_keys row ${row.kid}: public_jwk is not a JSON object`);
  }
  return {
    kid: row.kid,
    algorithm: row.algorithm,
    publicJwk: jwk as JsonObject,
    status: row.status,
    createdAt: row.createdAt,
    retiredAt: row.retiredAt,
    publishedUntil: row.publishedUntil,
  };
}

/** The table signing_keys, shared by every instance and the operator CLI. */
export class PrismaSigningKeyRegistry implements SigningKeyRegistry {
  constructor(private readonly prisma: PrismaService) {}

  async list(): Promise<SigningKeyRecord[]> {
    const rows = await this.prisma.signingKey.findMany({ orderBy: [{ createdAt: 'asc' }, { kid: 'asc' }] });
    return rows.map(toRecord);
  }

  async register(key: NewSigningKey): Promise<void> {
    // The kid is the key's thumbprint, so a known kid is the very same key: keep its row as it is.
    await this.prisma.signingKey.upsert({
      where: { kid: key.kid },
      create: {
        kid: key.kid,
        algorithm: key.publicJwk.alg,
        publicJwk: { ...key.publicJwk },
        status: key.status,
      },
      update: {},
    });
  }

  async activate(kid: string, retireOthersPublishedUntil: Date): Promise<void> {
    await this.prisma.$transaction(async (tx) => {
      // Two activations at once (two instances starting, or the CLI during a start)
      // would otherwise lock the same rows in opposite orders. This mode conflicts
      // with itself and with writes, never with the readers.
      await tx.$executeRaw`LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE`;
      const now = new Date();
      const activated = await tx.signingKey.updateMany({
        where: { kid },
        data: { status: 'ACTIVE', retiredAt: null, publishedUntil: null },
      });
      if (activated.count === 0) throw new UnknownSigningKeyError(kid);
      await tx.signingKey.updateMany({
        where: { status: 'ACTIVE', kid: { not: kid } },
        data: { status: 'RETIRED', retiredAt: now, publishedUntil: retireOthersPublishedUntil },
      });
    });
  }

  async removeExpired(now: Date): Promise<string[]> {
    // One statement: the rows deleted are exactly the kids returned, even with a concurrent rotation.
    const rows = await this.prisma.$queryRaw<{ kid: string }[]>`
      DELETE FROM signing_keys
      WHERE status = 'RETIRED' AND published_until IS NOT NULL AND published_until <= ${now}
      RETURNING kid`;
    return rows.map((row) => row.kid).sort();
  }
}
