import { Controller, Headers, HttpCode, HttpStatus, Inject, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { RenewTokenUseCase } from '@iam/domain';
import {
  bearerToken,
  booleanParameter,
  optionalId,
  optionalToken,
  type RawQuery,
} from '../http/query-parameters';
import { ApiDatabaseUnavailableResponse, AuthMeErrorDto, TokenResponseDto } from '../http/token-response.dto';
import { noStore } from '../http/no-store';

@ApiTags('User Identities')
@Controller('security/iam/v1/user-identities')
export class RenewTokenController {
  constructor(@Inject(RenewTokenUseCase) private readonly renewToken: RenewTokenUseCase) {}

  @Post('renew-token')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Renew Token',
    description:
      "Re-issues a user's token so that it carries the user's roles now. Ways in: the user's access token, " +
      "the session's current refresh token, or (after an identity provider's login) userId and clientId.",
  })
  @ApiBearerAuth()
  @ApiQuery({
    name: 'token',
    required: false,
    type: String,
    description: "The user's access token or the session's refresh token.",
  })
  @ApiQuery({ name: 'remember-me', required: true, type: Boolean })
  @ApiQuery({
    name: 'clientId',
    required: false,
    type: String,
    description: 'Client id, after an identity provider login.',
  })
  @ApiQuery({
    name: 'userId',
    required: false,
    type: String,
    description: 'User id returned by the identity provider.',
  })
  @ApiQuery({
    name: 'businessId',
    required: false,
    type: String,
    description: 'Switch the session to act for this business.',
  })
  @ApiResponse({ status: 200, type: TokenResponseDto })
  @ApiResponse({
    status: 400,
    type: [AuthMeErrorDto],
    description: 'Malformed, missing or repeated parameters.',
  })
  @ApiResponse({
    status: 401,
    type: [AuthMeErrorDto],
    description: 'Caller or user token missing, invalid or expired.',
  })
  @ApiResponse({
    status: 403,
    type: [AuthMeErrorDto],
    description: "The caller's client lacks the required roles.",
  })
  @ApiResponse({
    status: 412,
    type: [AuthMeErrorDto],
    description: 'The session or user state forbids renewal.',
  })
  @ApiResponse({ status: 500, type: [AuthMeErrorDto] })
  @ApiDatabaseUnavailableResponse()
  async renew(
    @Query() query: RawQuery,
    @Headers('authorization') authorization: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TokenResponseDto> {
    const result = await this.renewToken.execute({
      callerToken: bearerToken(authorization),
      token: optionalToken(query, 'token'),
      rememberMe: booleanParameter(query, 'remember-me'),
      clientId: optionalId(query, 'clientId'),
      userId: optionalId(query, 'userId'),
      businessId: optionalId(query, 'businessId'),
    });
    noStore(reply);
    return TokenResponseDto.of(result);
  }
}
