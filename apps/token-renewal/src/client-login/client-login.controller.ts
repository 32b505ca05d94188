import { Controller, Headers, HttpCode, HttpStatus, Inject, Post, Res } from '@nestjs/common';
import { ApiBasicAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ClientLoginUseCase, ErrorCode, isValidId, isWellFormedText, unauthenticated } from '@iam/domain';
import { ServiceMetrics } from '@iam/observability';
import { noStore } from '../http/no-store';
import { ApiDatabaseUnavailableResponse, AuthMeErrorDto, TokenResponseDto } from '../http/token-response.dto';

const MAX_CREDENTIAL_LENGTH = 1_024;

/** `Authorization: Basic base64(clientId:clientSecret)` (RFC 7617); the id may not contain ':'. */
export function basicCredentials(authorization: string | undefined): { clientId: string; secret: string } {
  const match = /^Basic[ ]+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(authorization ?? '');
  const refuse = () =>
    unauthenticated(ErrorCode.InvalidClientCredentials, 'Basic client credentials are required');
  if (!match || match[1]!.length > MAX_CREDENTIAL_LENGTH) throw refuse();
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw refuse();
  const clientId = decoded.slice(0, colon);
  const secret = decoded.slice(colon + 1);
  // A client id that no client can have is refused like a wrong one, before it reaches the database.
  if (!isValidId(clientId) || !isWellFormedText(secret)) throw refuse();
  return { clientId, secret };
}

@ApiTags('Client Identities')
@Controller('security/iam/v1/client-identities')
export class ClientLoginController {
  constructor(
    @Inject(ClientLoginUseCase) private readonly login: ClientLoginUseCase,
    @Inject(ServiceMetrics) private readonly metrics: ServiceMetrics,
  ) {}

  @Post('login')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Login client',
    description: "An application's own token, with its roles as authorities.",
  })
  @ApiBasicAuth()
  @ApiResponse({ status: 200, type: TokenResponseDto, description: 'No refresh token on client login.' })
  @ApiResponse({ status: 401, type: [AuthMeErrorDto], description: 'Missing or wrong client credentials.' })
  @ApiResponse({
    status: 429,
    type: [AuthMeErrorDto],
    description: 'Too many failed logins for this client.',
  })
  @ApiDatabaseUnavailableResponse()
  async loginClient(
    @Headers('authorization') authorization: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TokenResponseDto> {
    const { clientId, secret } = basicCredentials(authorization);
    const result = await this.login.execute(clientId, secret);
    this.metrics.tokensIssued.inc({ cause: 'client_login' });
    noStore(reply);
    return TokenResponseDto.of(result);
  }
}
