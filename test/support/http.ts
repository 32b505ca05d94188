import type { ServiceInstance } from './service';

export interface TokenResponse {
  accessToken: string;
  tokenType: string;
  refreshToken?: string;
  expiresIn: string;
  scope: string[];
}

export async function loginClient(
  service: ServiceInstance,
  clientId: string,
  secret: string,
): Promise<TokenResponse> {
  const response = await service.fetch('/security/iam/v1/client-identities/login', {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
  });
  if (response.status !== 200)
    throw new Error(`client login failed: ${response.status} ${await response.text()}`);
  return (await response.json()) as TokenResponse;
}

export function renewToken(
  service: ServiceInstance,
  callerToken: string | undefined,
  query: Record<string, string>,
): Promise<Response> {
  return service.fetch(
    `/security/iam/v1/user-identities/renew-token?${new URLSearchParams(query).toString()}`,
    {
      method: 'POST',
      headers: callerToken ? { authorization: `Bearer ${callerToken}` } : {},
    },
  );
}

/** The claims of a JWT, read without verifying (tests verify separately, with the JWKS). */
export function claimsOf(jwt: string): Record<string, unknown> {
  const [, payload] = jwt.split('.');
  return JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}
