import { Controller, Get, Header, Inject } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { SigningKeyRing } from '@iam/tokens';

@ApiTags('Keys')
@Controller('security/iam/v1')
export class KeysController {
  constructor(@Inject(SigningKeyRing) private readonly keys: SigningKeyRing) {}

  /** Every public key a token this service signed may still need, as a JWK Set (RFC 7517). */
  @Get('keys')
  @Header('cache-control', 'public, max-age=60')
  @ApiOperation({ summary: 'Gets public key used to validate JWT' })
  @ApiResponse({ status: 200, description: 'JWK Set; every key has kid, kty, alg and use.' })
  jwks() {
    return this.keys.jwks();
  }
}
