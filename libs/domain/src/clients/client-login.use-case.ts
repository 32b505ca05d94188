import { DomainError, ErrorCode, unauthenticated } from '../errors';
import type { Clock } from '../ports/clock';
import type { IdGenerator } from '../ports/id-generator';
import { toAuthority } from '../roles/authorities';
import { clientTokenClaims, type TokenSigner } from '../tokens/access-token';
import type { LoginThrottle } from './login-throttle';

export interface ClientCredentials {
  readonly secretHash: string | null;
  readonly roles: readonly string[];
  readonly scopes: readonly string[];
}

export interface ClientCredentialStore {
  /** The client's secret hash and current roles; null for an unknown client. */
  find(clientId: string): Promise<ClientCredentials | null>;
}

export interface SecretVerifier {
  /** Constant-time; spends the same work when there is no stored hash. */
  verify(secret: string, storedHash: string | null): Promise<boolean>;
}

export interface ClientLoginSettings {
  readonly issuer: string;
  readonly clientTokenTtlMs: number;
  readonly defaultScope: readonly string[];
}

export interface ClientLoginResult {
  readonly accessToken: string;
  readonly expiresAt: Date;
  readonly scope: readonly string[];
}

/**
 * Login Client (http-api.md §4): an application proves its id and secret and
 * receives a token whose authorities are its roles. Wrong credentials, an
 * unknown client and a client without a secret all look the same to the caller.
 */
export class ClientLoginUseCase {
  constructor(
    private readonly clients: ClientCredentialStore,
    private readonly secrets: SecretVerifier,
    private readonly throttle: LoginThrottle,
    private readonly signer: TokenSigner,
    private readonly ids: IdGenerator,
    private readonly clock: Clock,
    private readonly settings: ClientLoginSettings,
  ) {}

  async execute(clientId: string, secret: string): Promise<ClientLoginResult> {
    const now = this.clock.now();
    const wait = await this.throttle.admit(clientId, now);
    if (wait > 0) {
      throw new DomainError(
        'too-many-requests',
        ErrorCode.TooManyFailedLogins,
        'too many failed logins; retry later',
        wait,
      );
    }
    const client = await this.clients.find(clientId);
    const valid = await this.secrets.verify(secret, client?.secretHash ?? null);
    // A wrong secret leaves the admitted attempt counted as a failure.
    if (!client || !valid) {
      throw unauthenticated(ErrorCode.InvalidClientCredentials, 'client id or secret is not valid');
    }
    await this.throttle.recordSuccess(clientId);

    const expiresAt = new Date(now.getTime() + this.settings.clientTokenTtlMs);
    const scope = client.scopes.length > 0 ? client.scopes : this.settings.defaultScope;
    const accessToken = await this.signer.sign(
      clientTokenClaims({
        tokenId: this.ids.uuid(),
        issuer: this.settings.issuer,
        clientId,
        scope,
        authorities: [...new Set(client.roles)].map(toAuthority).sort(),
        issuedAt: now,
        expiresAt,
      }),
    );
    return { accessToken, expiresAt, scope };
  }
}
