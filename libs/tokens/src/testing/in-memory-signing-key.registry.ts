import type { Clock } from '@iam/domain';
import {
  UnknownSigningKeyError,
  type NewSigningKey,
  type SigningKeyRecord,
  type SigningKeyRegistry,
} from '../keys/signing-key-registry';

/** The signing key registry in memory, with the Prisma registry's semantics; for unit tests. */
export class InMemorySigningKeyRegistry implements SigningKeyRegistry {
  private rows: SigningKeyRecord[] = [];

  constructor(private readonly clock: Clock) {}

  list(): Promise<SigningKeyRecord[]> {
    return Promise.resolve(
      [...this.rows].sort(
        (a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.kid.localeCompare(b.kid),
      ),
    );
  }

  register(key: NewSigningKey): Promise<void> {
    if (!this.rows.some((row) => row.kid === key.kid)) {
      this.rows.push({
        kid: key.kid,
        algorithm: key.publicJwk.alg,
        // Stored as JSON, as the database would.
        publicJwk: JSON.parse(JSON.stringify(key.publicJwk)) as SigningKeyRecord['publicJwk'],
        status: key.status,
        createdAt: this.clock.now(),
        retiredAt: null,
        publishedUntil: null,
      });
    }
    return Promise.resolve();
  }

  activate(kid: string, retireOthersPublishedUntil: Date): Promise<void> {
    if (!this.rows.some((row) => row.kid === kid)) return Promise.reject(new UnknownSigningKeyError(kid));
    const now = this.clock.now();
    this.rows = this.rows.map((row) => {
      if (row.kid === kid) return { ...row, status: 'ACTIVE', retiredAt: null, publishedUntil: null };
      if (row.status === 'ACTIVE') {
        return { ...row, status: 'RETIRED', retiredAt: now, publishedUntil: retireOthersPublishedUntil };
      }
      return row;
    });
    return Promise.resolve();
  }

  removeExpired(now: Date): Promise<string[]> {
    const expired = (row: SigningKeyRecord): boolean =>
      row.status === 'RETIRED' &&
      row.publishedUntil !== null &&
      row.publishedUntil.getTime() <= now.getTime();
    const removed = this.rows.filter(expired).map((row) => row.kid);
    this.rows = this.rows.filter((row) => !expired(row));
    return Promise.resolve(removed.sort());
  }

  /** For tests that tamper with the stored data. */
  replace(kid: string, change: Partial<SigningKeyRecord>): void {
    this.rows = this.rows.map((row) => (row.kid === kid ? { ...row, ...change } : row));
  }
}
