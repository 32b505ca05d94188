import { randomUUID } from 'node:crypto';
import type { IdGenerator } from '@iam/domain';

/** UUID v4 from the CSPRNG: token ids, session ids and opaque refresh tokens must be unguessable. */
export class RandomIds implements IdGenerator {
  uuid(): string {
    return randomUUID();
  }
}
