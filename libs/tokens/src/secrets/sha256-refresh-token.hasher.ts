import { createHash } from 'node:crypto';
import type { RefreshTokenHasher } from '@iam/domain';

/**
 * Refresh tokens are random UUIDs (122 bits of entropy), so a plain SHA-256 is
 * enough to make a leaked table useless, and it stays cheap on the hot path:
 * the lookup is by hash. A slow hash would only add latency here.
 */
export class Sha256RefreshTokenHasher implements RefreshTokenHasher {
  hash(token: string): string {
    return createHash('sha256').update(token, 'utf8').digest('hex');
  }
}
