import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { REDACTED, redactUrl } from './redaction';
import { createRootLogger } from './root-logger';

describe('redactUrl', () => {
  it('hides the value of the token parameter, keeping the rest of the URL', () => {
    expect(redactUrl('/renew-token?token=eyJhbGciOi.x.y&remember-me=true')).toBe(
      `/renew-token?token=${REDACTED}&remember-me=true`,
    );
  });

  it('hides refresh tokens, secrets and passwords too, whatever their case or encoding', () => {
    expect(redactUrl('/x?Refresh_Token=abc&client_secret=s&PASSWORD=p&%74oken=t&keep=1')).toBe(
      `/x?Refresh_Token=${REDACTED}&client_secret=${REDACTED}&PASSWORD=${REDACTED}&%74oken=${REDACTED}&keep=1`,
    );
  });

  it('copes with malformed escapes and parameters without a value', () => {
    expect(redactUrl('/x?%zz=1&token&token=')).toBe(`/x?%zz=1&token&token=${REDACTED}`);
    expect(redactUrl('/x')).toBe('/x');
  });
});

describe('the root logger', () => {
  function capture() {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    return { logger: createRootLogger('info', 'test', stream), lines };
  }

  it('redacts tokens, secrets and credentials wherever they sit in a log line', () => {
    const { logger, lines } = capture();
    logger.info(
      {
        token: 't0',
        accessToken: 'a1',
        nested: { refreshToken: 'r1', clientSecret: 's1', deeper: { authorization: 'Bearer b1' } },
        req: { headers: { authorization: 'Basic c2VjcmV0', cookie: 'c' } },
      },
      'something happened',
    );
    const line = lines.join('');
    for (const secret of ['t0', 'a1', 'r1', 's1', 'Bearer b1', 'c2VjcmV0'])
      expect(line).not.toContain(secret);
    expect(JSON.parse(line)).toMatchObject({ level: 'info', msg: 'something happened', token: REDACTED });
  });
});
