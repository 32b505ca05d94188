import { KeyObject } from 'node:crypto';
import type { CryptoKey } from 'jose';

const keyObjects = new WeakMap<CryptoKey, KeyObject>();

/**
 * The node:crypto view of a key the ring imported through jose (WebCrypto).
 * Tokens are signed and verified with node:crypto: on a busy machine each
 * WebCrypto call cost the service's main thread ~120 µs (a job handed to the
 * thread pool and a promise back, even for a verification that takes 46 µs
 * done in place) — 13 % of the main thread in `npm run bench:http`.
 * Converted once per key.
 */
export function keyObjectOf(key: CryptoKey): KeyObject {
  let keyObject = keyObjects.get(key);
  if (!keyObject) {
    keyObject = KeyObject.from(key);
    keyObjects.set(key, keyObject);
  }
  return keyObject;
}
