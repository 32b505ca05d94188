import { generateKeyPairSync, sign } from 'node:crypto';

/**
 * How many RS512 signatures (RSA-2048) one core makes per second right now:
 * the cost every renewal pays once, so the ceiling of any token service here.
 */
export function rsaSigningRatePerCore(durationMs = 2_000): number {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const payload = Buffer.alloc(700, 'x');
  for (let i = 0; i < 50; i += 1) sign('sha512', payload, privateKey);
  let signatures = 0;
  const started = process.hrtime.bigint();
  const budget = BigInt(durationMs) * 1_000_000n;
  while (process.hrtime.bigint() - started < budget) {
    sign('sha512', payload, privateKey);
    signatures += 1;
  }
  return signatures / (durationMs / 1_000);
}
