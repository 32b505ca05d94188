import { describe, expect, it } from 'vitest';
import { headerMap, headerPairs } from './inbound-record';

describe('headerPairs and headerMap: any header a producer can send passes', () => {
  it('reads a header without a value (Kafka null) as an empty one', () => {
    expect(headerPairs({ empty: null, probe: ['a', Buffer.from('b')] })).toEqual([
      ['empty', Buffer.alloc(0)],
      ['probe', Buffer.from('a')],
      ['probe', Buffer.from('b')],
    ]);
  });

  it('keeps a header named __proto__ as a header, there and back', () => {
    // As kafkajs decodes it: `obj[key]` of a plain object is Object.prototype before the value.
    const decoded: Record<string, unknown> = {};
    Object.defineProperty(decoded, '__proto__', {
      value: [Object.prototype, Buffer.from('x')],
      enumerable: true,
    });
    const pairs = headerPairs(decoded as Parameters<typeof headerPairs>[0]);
    expect(pairs).toEqual([['__proto__', Buffer.from('x')]]);

    const map = headerMap([...pairs, ['constructor', Buffer.from('y')]]);
    expect(Object.keys(map)).toEqual(['__proto__', 'constructor']);
    expect(map['__proto__']).toEqual([Buffer.from('x')]);
    expect(map['constructor']).toEqual([Buffer.from('y')]);
  });
});
