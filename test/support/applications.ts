import { randomUUID } from 'node:crypto';
import { claimsOf, loginClient, renewToken, type TokenResponse } from './http';
import { runCli, type Deployment, type ServiceInstance } from './service';

/** The roles a first-party application needs to call Renew Token with its own token. */
export const FIRST_PARTY_ROLES = ['CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY'] as const;

/** The claims of a user token this service signs (the part the tests look at). */
export interface UserTokenClaims {
  readonly jti: string;
  readonly sid: string;
  readonly sub: string;
  readonly user_id: string;
  readonly client_id: string;
  readonly business_id: string | null;
  readonly authorities: string[];
  readonly scope: string[];
  readonly claims_version: number;
}

export function userClaimsOf(jwt: string): UserTokenClaims {
  return claimsOf(jwt) as unknown as UserTokenClaims;
}

/** `ROLE_`-prefixed authorities, sorted as the service sorts them. */
export function authorities(...roles: string[]): string[] {
  return [...new Set(roles)].map((role) => `ROLE_${role}`).sort();
}

/** Registers a client with the operator CLI; throws with the CLI's output when it fails. */
export async function registerClient(
  deployment: Deployment,
  clientId: string,
  options: { roles?: readonly string[]; service?: string; secret?: string } = {},
): Promise<{ clientId: string; secret: string; roles: readonly string[] }> {
  const secret = options.secret ?? `secret-${randomUUID()}`;
  const roles = options.roles ?? FIRST_PARTY_ROLES;
  const args = ['client', 'create', '--id', clientId, '--secret', secret, '--roles', roles.join(',')];
  if (options.service !== undefined) args.push('--service', options.service);
  const result = await runCli(deployment, args);
  if (result.code !== 0) {
    throw new Error(`client create ${clientId} failed (${result.code}): ${result.stdout}${result.stderr}`);
  }
  return { clientId, secret, roles };
}

/** What a successful Renew Token returned, with the access token's claims read. */
export interface UserToken {
  readonly response: TokenResponse;
  readonly claims: UserTokenClaims;
}

/**
 * A first-party application as a test drives it: registered with the CLI,
 * logged in with its own credentials, starting and renewing its users'
 * sessions through Renew Token (the identity-provider case).
 */
export class Application {
  private constructor(
    readonly service: ServiceInstance,
    readonly clientId: string,
    readonly secret: string,
    private appToken: string,
  ) {}

  static async register(
    service: ServiceInstance,
    clientId: string,
    options: { roles?: readonly string[]; service?: string } = {},
  ): Promise<Application> {
    const { secret } = await registerClient(service.deployment, clientId, options);
    const login = await loginClient(service, clientId, secret);
    return new Application(service, clientId, secret, login.accessToken);
  }

  /** The same application talking to another instance of the deployment. */
  async on(service: ServiceInstance): Promise<Application> {
    const login = await loginClient(service, this.clientId, this.secret);
    return new Application(service, this.clientId, this.secret, login.accessToken);
  }

  get token(): string {
    return this.appToken;
  }

  /** Renew Token, identity-provider case: starts (or continues) the user's session with this client. */
  renewForUser(
    userId: string,
    options: { businessId?: string; rememberMe?: boolean } = {},
  ): Promise<Response> {
    const query: Record<string, string> = {
      userId,
      clientId: this.clientId,
      'remember-me': String(options.rememberMe ?? true),
    };
    if (options.businessId !== undefined) query.businessId = options.businessId;
    return renewToken(this.service, this.appToken, query);
  }

  /** Renew Token with the user's access token (or refresh token). */
  renewWithToken(
    token: string,
    options: { businessId?: string; rememberMe?: boolean } = {},
  ): Promise<Response> {
    const query: Record<string, string> = { token, 'remember-me': String(options.rememberMe ?? true) };
    if (options.businessId !== undefined) query.businessId = options.businessId;
    return renewToken(this.service, this.appToken, query);
  }

  /** Starts or continues a session and expects 200. */
  async session(userId: string, options: { businessId?: string } = {}): Promise<UserToken> {
    const response = await this.renewForUser(userId, options);
    if (response.status !== 200) {
      throw new Error(`Renew Token for ${userId} answered ${response.status}: ${await response.text()}`);
    }
    const body = (await response.json()) as TokenResponse;
    return { response: body, claims: userClaimsOf(body.accessToken) };
  }

  /** Retries `session` until it succeeds (for state an event is about to establish). */
  async sessionEventually(
    userId: string,
    options: { businessId?: string; timeoutMs?: number } = {},
  ): Promise<UserToken> {
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    for (;;) {
      const response = await this.renewForUser(userId, options);
      if (response.status === 200) {
        const body = (await response.json()) as TokenResponse;
        return { response: body, claims: userClaimsOf(body.accessToken) };
      }
      const text = await response.text();
      if (Date.now() > deadline) {
        throw new Error(`Renew Token for ${userId} still answers ${response.status}: ${text}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
