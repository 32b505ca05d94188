import { createPublicKey, KeyObject } from 'node:crypto';
import { systemClock, type Clock } from '@iam/domain';
import {
  deleteSigningKeyFile,
  generateSigningKeyFile,
  importSigningKeyFile,
  readSigningKeyDirectory,
  type SigningKeyFile,
} from './key-files';
import {
  SIGNING_ALGORITHM,
  publicSigningJwk,
  rsaThumbprint,
  toRsaPublicJwk,
  type PublicSigningJwk,
} from './rsa-jwk';
import type { SigningKeyRecord, SigningKeyRegistry } from './signing-key-registry';

export interface SigningKeyRingOptions {
  readonly registry: SigningKeyRegistry;
  /** Where the private keys live. Every instance must see the same keys (a shared volume or a mounted secret). */
  readonly dir: string;
  /** Generate a key when there is none at all (development); production brings its own. */
  readonly generateIfMissing: boolean;
  /** The longest lifetime of a token we sign (access or client token) plus the verifiers' clock tolerance. */
  readonly maxTokenLifetimeMs: number;
  /** How often `start()` re-reads the registry, to follow rotations made by another instance or the CLI. */
  readonly refreshIntervalMs?: number;
  readonly clock?: Clock;
  /**
   * Milliseconds on a clock that only moves forward (`performance.now()` by
   * default). The signing window counts the longer of its elapsed time and the
   * wall clock's: a wall clock stepped back extends nothing, and time a
   * suspended machine did not run (which the monotonic clock skips) still
   * counts. Tests tie it to their clock.
   */
  readonly monotonicMs?: () => number;
  /** Receives the errors of the periodic refresh (the ring keeps its previous keys meanwhile). */
  readonly onRefreshError?: (error: unknown) => void;
}

/** The key new tokens are signed with. */
export interface ActiveSigningKey {
  readonly kid: string;
  /** node:crypto's form, as the signer uses it (converted once per key, not per token). */
  readonly privateKey: KeyObject;
}

/** A JWK Set (RFC 7517) of public keys only. */
export interface PublicJsonWebKeySet {
  readonly keys: readonly PublicSigningJwk[];
}

/** A registry row as `keys list` shows it. */
export interface SigningKeyListing extends SigningKeyRecord {
  /** In the JWKS now: ACTIVE, or RETIRED with publishedUntil still ahead. */
  readonly published: boolean;
  /** Whether the keys directory holds its private key. */
  readonly hasPrivateKey: boolean;
}

export interface RotationResult {
  readonly activated: string;
  /** The keys that were ACTIVE before; they verify, and stay in the JWKS, until `publishedUntil`. */
  readonly retired: readonly string[];
  readonly publishedUntil: Date;
  /** Keys whose publication had ended: removed from the registry, and their private key files deleted. */
  readonly removed: readonly string[];
  /** Private key files of removed keys that could not be deleted (a read-only mount, say): delete them by hand. */
  readonly filesNotDeleted: readonly string[];
}

export class SigningKeyRingError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SigningKeyRingError';
  }
}

/**
 * The registry's ACTIVE key has no readable private key file in this
 * instance's keys directory (none is there, or the directory could not be
 * read: `cause`). Either the file has not reached this instance yet (a shared
 * volume or a mounted secret lags), or its deployment lacks it for good.
 */
export class SigningKeyFileMissingError extends SigningKeyRingError {
  constructor(
    readonly kid: string,
    readonly dir: string,
    /** When the key became ACTIVE: how long its file has had to arrive. */
    readonly activatedAt: Date,
    options?: ErrorOptions,
  ) {
    super(
      `the ACTIVE signing key ${kid} has no readable private key file in ${dir}` +
        (options?.cause instanceof Error ? ` (${options.cause.message})` : '') +
        '; every instance needs the same keys directory',
      options,
    );
    this.name = 'SigningKeyFileMissingError';
  }
}

/**
 * The ring has not read the registry for longer than it may sign on what it
 * last read (its refreshes fail): the key it holds may have been retired
 * elsewhere since, and a token signed with it might outlive its publication.
 * Transient: it passes once a refresh succeeds.
 */
export class SigningKeysStaleError extends Error {
  constructor(readonly lastReadAt: Date) {
    super(
      `the signing keys were last read at ${lastReadAt.toISOString()}; no token is signed until they are read again`,
    );
    this.name = 'SigningKeysStaleError';
  }
}

interface PublishedKey {
  readonly jwk: PublicSigningJwk;
  readonly publicKey: KeyObject;
  /** null while the key is ACTIVE. */
  readonly publishedUntil: Date | null;
}

/** The moment of a registry read, on both clocks (see SigningKeyRingOptions.monotonicMs). */
interface ReadStamp {
  /** When the registry was read (before the read, so never later than what it says). */
  readonly readAt: Date;
  /** The same moment on the monotonic clock. */
  readonly readAtMs: number;
}

interface RingState extends ReadStamp {
  readonly active: ActiveSigningKey;
  readonly published: ReadonlyMap<string, PublishedKey>;
}

/**
 * How many refresh intervals an instance may go on signing after its last read
 * of the registry. A retired key stays published that much longer than its
 * longest token, so that whatever an instance signed with it before learning of
 * the retirement verifies until it expires. Three, so that a refresh or two
 * failing on a blip stops nothing.
 */
const SIGNING_FRESHNESS_INTERVALS = 3;

/** Stale signers ask for a read on every request: this bounds how often they get one. */
const MIN_ASKED_REFRESH_GAP_MS = 1_000;

const DEFAULT_REFRESH_INTERVAL_MS = 30_000;

/**
 * The signing keys of this service: the private key of the ACTIVE registry row,
 * read from the keys directory, and the public key of every row still
 * published. Everything a request needs is held in memory, already imported,
 * so signing and verifying never touch the database or the disk.
 */
export class SigningKeyRing {
  private readonly registry: SigningKeyRegistry;
  private readonly clock: Clock;
  private readonly monotonicMs: () => number;
  private readonly refreshIntervalMs: number;
  private state: RingState | undefined;
  private files = new Map<string, SigningKeyFile[]>();
  // Public keys are immutable per kid (the kid is their thumbprint), so imports are kept across refreshes.
  private readonly importedPublicKeys = new Map<string, KeyObject>();
  private timer: NodeJS.Timeout | undefined;
  private backgroundRefresh: Promise<void> | undefined;
  private lastAskedAt = Number.NEGATIVE_INFINITY;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: SigningKeyRingOptions) {
    if (!(options.maxTokenLifetimeMs > 0)) throw new RangeError('maxTokenLifetimeMs must be positive');
    this.registry = options.registry;
    this.clock = options.clock ?? systemClock;
    this.monotonicMs = options.monotonicMs ?? (() => performance.now());
    this.refreshIntervalMs = options.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
    if (!(this.refreshIntervalMs > 0)) throw new RangeError('refreshIntervalMs must be positive');
  }

  /** Loads the keys; registers (and, if allowed and needed, generates) a first key when none is ACTIVE. */
  init(): Promise<void> {
    return this.exclusive(async () => {
      const readAt = this.readStamp();
      await this.scanDirectory();
      let rows = await this.registry.list();
      if (!rows.some((row) => row.status === 'ACTIVE')) {
        const first = this.newestFile() ?? (await this.generateFirstKey());
        await this.registry.register({ kid: first.kid, publicJwk: first.publicJwk, status: 'ACTIVE' });
        await this.registry.activate(first.kid, this.retiredKeysPublishedUntil());
        rows = await this.registry.list();
      }
      this.state = await this.buildState(rows, readAt);
    });
  }

  /** Re-reads the registry, so a rotation made elsewhere is followed. On failure the previous keys stay. */
  refresh(): Promise<void> {
    return this.exclusive(async () => {
      this.state = await this.readState();
    });
  }

  /** Refreshes every `refreshIntervalMs`; the timer does not keep the process alive. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.refreshInBackground(), this.refreshIntervalMs);
    this.timer.unref();
  }

  /** A stale signer asking for a read early: at most once a second, however many ask. */
  private askForRefresh(): void {
    const now = this.monotonicMs();
    if (now - this.lastAskedAt < MIN_ASKED_REFRESH_GAP_MS) return;
    this.lastAskedAt = now;
    this.refreshInBackground();
  }

  /** One refresh at a time, its failure reported. */
  private refreshInBackground(): void {
    this.backgroundRefresh ??= this.refresh()
      .catch((error: unknown) => this.options.onRefreshError?.(error))
      .finally(() => {
        this.backgroundRefresh = undefined;
      });
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * `keys rotate`: writes a new key (generated, or imported from `keyFile`) into
   * the directory and makes it the ACTIVE key. The keys it replaces stay
   * published long enough for every token they signed to expire; keys whose
   * publication has ended are removed, with their private key files.
   */
  rotate(options: { readonly keyFile?: string } = {}): Promise<RotationResult> {
    return this.exclusive(async () => {
      // Read the directory first: one file it cannot read then fails the rotation before it has
      // changed anything, not after the new key is active.
      await this.scanDirectory();
      const file = options.keyFile
        ? await importSigningKeyFile(this.options.dir, options.keyFile)
        : await generateSigningKeyFile(this.options.dir);
      this.files.set(file.kid, [...(this.files.get(file.kid) ?? []), file]);
      await this.registry.register({ kid: file.kid, publicJwk: file.publicJwk, status: 'ACTIVE' });
      const before = await this.registry.list();
      const publishedUntil = this.retiredKeysPublishedUntil();
      await this.registry.activate(file.kid, publishedUntil);
      const removed = await this.registry.removeExpired(this.clock.now());
      const filesNotDeleted: string[] = [];
      for (const kid of removed) {
        for (const expired of this.files.get(kid) ?? []) {
          // The rotation itself has happened by now; a file that cannot go is reported, not fatal.
          await deleteSigningKeyFile(expired.path).catch(() => filesNotDeleted.push(expired.path));
        }
        this.files.delete(kid);
      }
      this.state = await this.readState();
      return {
        activated: file.kid,
        retired: before
          .filter((row) => row.status === 'ACTIVE' && row.kid !== file.kid)
          .map((row) => row.kid),
        publishedUntil,
        removed,
        filesNotDeleted,
      };
    });
  }

  /** `keys list`: every registry row, with whether it is published and whether its private key is here. */
  list(): Promise<SigningKeyListing[]> {
    return this.exclusive(async () => {
      await this.scanDirectory();
      const now = this.clock.now();
      return (await this.registry.list()).map((row) => ({
        ...row,
        published: isPublished(row, now),
        hasPrivateKey: this.files.has(row.kid),
      }));
    });
  }

  /** The key to sign new tokens with, while what the ring last read of the registry is recent enough. */
  signingKey(): ActiveSigningKey {
    const state = this.current();
    const { active, readAt } = state;
    if (!this.maySign(state)) {
      // Once the registry answers again, the caller's next try should not wait for the timer.
      this.askForRefresh();
      throw new SigningKeysStaleError(readAt);
    }
    return active;
  }

  /** For readiness: whether it signs now, and when it last read the registry. */
  signingStatus(): { readonly current: boolean; readonly lastReadAt: Date | undefined } {
    const { state } = this;
    return { current: state !== undefined && this.maySign(state), lastReadAt: state?.readAt };
  }

  /** How long after its last read of the registry it may sign (see SIGNING_FRESHNESS_INTERVALS). */
  private get signingFreshnessMs(): number {
    return SIGNING_FRESHNESS_INTERVALS * this.refreshIntervalMs;
  }

  private maySign(read: ReadStamp): boolean {
    const elapsedMs = Math.max(
      this.monotonicMs() - read.readAtMs,
      this.clock.now().getTime() - read.readAt.getTime(),
    );
    return elapsedMs <= this.signingFreshnessMs;
  }

  private readStamp(): ReadStamp {
    return { readAt: this.clock.now(), readAtMs: this.monotonicMs() };
  }

  /** The public key of a published kid; undefined for an unknown kid or one whose publication has ended. */
  verificationKey(kid: string): KeyObject | undefined {
    const key = this.current().published.get(kid);
    return key && this.stillPublished(key) ? key.publicKey : undefined;
  }

  /** The JWK Set for `GET /keys`: public members only, the active key first. */
  jwks(): PublicJsonWebKeySet {
    return {
      keys: [...this.current().published.values()]
        .filter((key) => this.stillPublished(key))
        .map((key) => key.jwk),
    };
  }

  private current(): RingState {
    if (!this.state)
      throw new SigningKeyRingError('the signing key ring is not initialised: call init() first');
    return this.state;
  }

  // Retirement is checked at each use, so a key leaves the JWKS on time even between refreshes.
  private stillPublished(key: PublishedKey): boolean {
    return key.publishedUntil === null || key.publishedUntil.getTime() > this.clock.now().getTime();
  }

  /**
   * Until when a key retired now must stay published: the longest token it may
   * have signed, plus as long as other instances may go on signing with it
   * before they read of the retirement (signingKey refuses after that).
   */
  private retiredKeysPublishedUntil(): Date {
    return new Date(this.clock.now().getTime() + this.options.maxTokenLifetimeMs + this.signingFreshnessMs);
  }

  private async generateFirstKey(): Promise<SigningKeyFile> {
    if (!this.options.generateIfMissing) {
      throw new SigningKeyRingError(
        `no signing key: the registry has no ACTIVE key and ${this.options.dir} holds no private key file, ` +
          'and key generation is off (SIGNING_KEYS_GENERATE). Put an RSA private key (PEM or JWK, ' +
          'at least 2048 bits) there, or run `keys rotate`.',
      );
    }
    const file = await generateSigningKeyFile(this.options.dir);
    this.files.set(file.kid, [file]);
    return file;
  }

  private newestFile(): SigningKeyFile | undefined {
    const all = [...this.files.values()].flat();
    all.sort((a, b) => a.modifiedAt.getTime() - b.modifiedAt.getTime() || a.kid.localeCompare(b.kid));
    return all.at(-1);
  }

  private async scanDirectory(): Promise<void> {
    const files = new Map<string, SigningKeyFile[]>();
    for (const file of await readSigningKeyDirectory(this.options.dir)) {
      files.set(file.kid, [...(files.get(file.kid) ?? []), file]);
    }
    this.files = files;
  }

  private async readState(): Promise<RingState> {
    const readAt = this.readStamp();
    return this.buildState(await this.registry.list(), readAt);
  }

  private async buildState(rows: readonly SigningKeyRecord[], readAt: ReadStamp): Promise<RingState> {
    const now = this.clock.now();
    const active = chooseActive(rows);
    if (!active) throw new SigningKeyRingError('the signing key registry has no ACTIVE key');
    const missingHere = (options?: ErrorOptions) =>
      new SigningKeyFileMissingError(active.kid, this.options.dir, activeSince(active, rows), options);
    // A key activated elsewhere (another instance, the CLI) was written to the shared directory after our last scan.
    if (!this.files.has(active.kid)) {
      try {
        await this.scanDirectory();
      } catch (cause) {
        throw missingHere({ cause });
      }
    }
    const activeFile = this.files.get(active.kid)?.at(-1);
    if (!activeFile) throw missingHere();
    const published = new Map<string, PublishedKey>();
    // The active key first: the JWKS lists it first.
    for (const row of [active, ...rows.filter((row) => row !== active)]) {
      if (!isPublished(row, now)) continue;
      const jwk = await checkedPublicJwk(row);
      const publishedUntil = row.status === 'ACTIVE' ? null : row.publishedUntil;
      published.set(row.kid, { jwk, publicKey: this.importPublicKey(jwk), publishedUntil });
    }
    for (const kid of this.importedPublicKeys.keys()) {
      if (!published.has(kid)) this.importedPublicKeys.delete(kid);
    }
    return {
      active: { kid: activeFile.kid, privateKey: KeyObject.from(activeFile.privateKey) },
      published,
      ...readAt,
    };
  }

  private importPublicKey(jwk: PublicSigningJwk): KeyObject {
    const known = this.importedPublicKeys.get(jwk.kid);
    if (known) return known;
    const key = createPublicKey({ key: { ...jwk }, format: 'jwk' });
    this.importedPublicKeys.set(jwk.kid, key);
    return key;
  }

  /** Runs one state change at a time: a timer refresh never interleaves with a rotation. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const result = this.queue.then(work, work);
    this.queue = result.catch(() => undefined);
    return result;
  }
}

/**
 * The key to sign with. Activation retires every other key in one transaction,
 * but between a registration and its activation two rows may be ACTIVE; then
 * the newest wins on every instance alike (all of them stay published).
 */
function chooseActive(rows: readonly SigningKeyRecord[]): SigningKeyRecord | undefined {
  return rows
    .filter((row) => row.status === 'ACTIVE')
    .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.kid.localeCompare(b.kid))
    .at(-1);
}

/**
 * When the active key became active, as the registry shows it: its
 * registration, or the last retirement of another key, since an activation
 * retires every other ACTIVE key at that moment. (A retired key made ACTIVE
 * again, `keys rotate --key-file` with a key used before, keeps its first
 * registration time; counted from that, its file would have had no time to
 * reach the instances.) Retired keys leave the registry only once their last
 * token has expired, long after the activation that retired them mattered.
 */
function activeSince(active: SigningKeyRecord, rows: readonly SigningKeyRecord[]): Date {
  let since = active.createdAt.getTime();
  for (const row of rows) if (row.retiredAt) since = Math.max(since, row.retiredAt.getTime());
  return new Date(since);
}

function isPublished(row: SigningKeyRecord, now: Date): boolean {
  if (row.status === 'ACTIVE') return true;
  return row.publishedUntil !== null && row.publishedUntil.getTime() > now.getTime();
}

/** The registry is shared storage, not trusted blindly: the stored key must be an RSA key that matches its kid. */
async function checkedPublicJwk(row: SigningKeyRecord): Promise<PublicSigningJwk> {
  if (row.algorithm !== SIGNING_ALGORITHM) {
    throw new SigningKeyRingError(
      `signing key ${row.kid} is registered for ${row.algorithm}, not ${SIGNING_ALGORITHM}`,
    );
  }
  const jwk = toRsaPublicJwk(row.publicJwk, `signing key ${row.kid}`);
  if ((await rsaThumbprint(jwk)) !== row.kid) {
    throw new SigningKeyRingError(`signing key ${row.kid}: the registered public key does not match its kid`);
  }
  return publicSigningJwk(jwk, row.kid);
}
