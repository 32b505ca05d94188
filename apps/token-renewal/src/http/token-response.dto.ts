import { ApiProperty, ApiPropertyOptional, ApiResponse } from '@nestjs/swagger';
import { epochSeconds } from '@iam/domain';

/** The 200 body of Renew Token and of Login Client (http-api.md §1 and §4). */
export class TokenResponseDto {
  @ApiProperty({
    description: 'The signed JWT (RS512).',
    example: 'eyJhbGciOiJSUzUxMiIsInR5cCI6IkpXVCJ9.eyJqdGkiOi...',
  })
  accessToken!: string;

  @ApiProperty({ enum: ['Bearer'], example: 'Bearer' })
  tokenType!: 'Bearer';

  @ApiPropertyOptional({
    description: 'Opaque refresh token (UUID form); only when remember-me is true. Never on client login.',
    example: '78e58fba-7282-4f99-a2da-d37eefc1ab12',
  })
  refreshToken?: string;

  @ApiProperty({
    description: "The access token's expiry instant in epoch seconds, as a string.",
    example: '1612483680',
  })
  expiresIn!: string;

  @ApiProperty({ type: [String], example: ['READ', 'WRITE'] })
  scope!: string[];

  static of(result: {
    accessToken: string;
    refreshToken?: string | undefined;
    expiresAt: Date;
    scope: readonly string[];
  }): TokenResponseDto {
    return {
      accessToken: result.accessToken,
      tokenType: 'Bearer',
      ...(result.refreshToken !== undefined ? { refreshToken: result.refreshToken } : {}),
      expiresIn: String(epochSeconds(result.expiresAt)),
      scope: [...result.scope],
    };
  }
}

/** One entry of AuthMe's error body (a JSON array of these). */
export class AuthMeErrorDto {
  @ApiProperty({ example: 'SESSION_REVOKED' })
  code!: string;

  @ApiProperty({ example: 'the session was revoked' })
  message!: string;
}

/** The 503 of every endpoint that needs the database (AuthMeExceptionFilter). */
export const ApiDatabaseUnavailableResponse = () =>
  ApiResponse({
    status: 503,
    type: [AuthMeErrorDto],
    description:
      'The database is unreachable or aborted the transaction (deadlock, serialization failure): retry after `retry-after` seconds.',
    headers: {
      'retry-after': { description: 'Seconds to wait before retrying.', schema: { type: 'string' } },
    },
  });
