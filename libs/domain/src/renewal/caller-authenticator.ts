import { ErrorCode, forbidden, unauthenticated } from '../errors';
import { isSatisfied, type Requirement } from '../requirements/requirement-expression';
import { rolesOf } from '../roles/authorities';
import { TokenRejectedError, type TokenVerifier, type VerifiedToken } from '../tokens/access-token';

/** Authenticates the caller's bearer token and checks its client against an endpoint's requirement. */
export class CallerAuthenticator {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly requirement: Requirement,
  ) {}

  async authenticate(bearer: string | undefined): Promise<VerifiedToken> {
    if (!bearer) throw unauthenticated(ErrorCode.InvalidCallerToken, 'a Bearer token is required');
    const caller = await verifyOr(
      this.verifier,
      bearer,
      ErrorCode.InvalidCallerToken,
      'the Bearer token is not valid',
    );
    if (!isSatisfied(this.requirement, rolesOf(caller.authorities))) {
      throw forbidden(
        ErrorCode.ClientRequirementNotMet,
        "the caller's client lacks the roles this endpoint requires",
      );
    }
    return caller;
  }
}

/** Verifies a token, turning a rejection into an "unauthenticated" domain error. */
export async function verifyOr(
  verifier: TokenVerifier,
  token: string,
  code: typeof ErrorCode.InvalidCallerToken | typeof ErrorCode.InvalidToken,
  message: string,
): Promise<VerifiedToken> {
  try {
    return await verifier.verify(token);
  } catch (error) {
    if (error instanceof TokenRejectedError) throw unauthenticated(code, message);
    throw error;
  }
}
