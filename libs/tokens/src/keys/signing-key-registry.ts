import type { JsonObject, PublicSigningJwk } from './rsa-jwk';

export type SigningKeyStatus = 'ACTIVE' | 'RETIRED';

/**
 * A row of the table signing_keys: the public half of every key a token may
 * still be signed with. Private keys never enter the database; they stay in
 * files (see key-files.ts).
 */
export interface SigningKeyRecord {
  readonly kid: string;
  readonly algorithm: string;
  /** Stored JSON, untrusted until the key ring has checked it. */
  readonly publicJwk: JsonObject;
  readonly status: SigningKeyStatus;
  readonly createdAt: Date;
  readonly retiredAt: Date | null;
  /** Set when the key is retired: it stays in the JWKS, and verifies tokens, until then. */
  readonly publishedUntil: Date | null;
}

export interface NewSigningKey {
  readonly kid: string;
  readonly publicJwk: PublicSigningJwk;
  readonly status: SigningKeyStatus;
}

/** The shared registry of signing keys, so that every instance and the operator CLI agree on them. */
export interface SigningKeyRegistry {
  /** Every row, oldest first. */
  list(): Promise<SigningKeyRecord[]>;

  /** Records a key once; registering a kid that is already known changes nothing (the kid is the key's thumbprint). */
  register(key: NewSigningKey): Promise<void>;

  /**
   * Atomically makes `kid` the only ACTIVE key; every other ACTIVE key becomes
   * RETIRED with retiredAt = now and publishedUntil as given. Throws if the kid
   * is not registered.
   */
  activate(kid: string, retireOthersPublishedUntil: Date): Promise<void>;

  /** Deletes the RETIRED rows whose publishedUntil is at or before `now`; returns their kids. */
  removeExpired(now: Date): Promise<string[]>;
}

/** Thrown by `activate` for a kid the registry does not hold. */
export class UnknownSigningKeyError extends Error {
  constructor(readonly kid: string) {
    super(`signing key ${kid} is not registered`);
    this.name = 'UnknownSigningKeyError';
  }
}
