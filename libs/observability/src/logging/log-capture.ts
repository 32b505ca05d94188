import { Writable } from 'node:stream';
import { createRootLogger, type RootLogger } from './root-logger';

export type LogLine = Record<string, unknown>;

/** For tests: a root logger (the service's options, redaction included) writing to memory. */
export function capturingRootLogger(level: string): { logger: RootLogger; lines: LogLine[]; raw: string[] } {
  const lines: LogLine[] = [];
  const raw: string[] = [];
  const destination = new Writable({
    // pino writes one whole line per call.
    write(chunk: Buffer, _encoding, done) {
      raw.push(chunk.toString());
      lines.push(JSON.parse(chunk.toString()) as LogLine);
      done();
    },
  });
  return { logger: createRootLogger(level, 'test', destination), lines, raw };
}
