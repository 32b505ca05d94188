import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Module, type DynamicModule } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { RootLogger } from './root-logger';
import { redactUrl } from './redaction';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A caller's well-formed `x-request-id`, or a new one: every log line of the request carries it. */
export function requestIdOf(req: IncomingMessage): string {
  const header = req.headers['x-request-id'];
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

/** The id the HTTP server already gave the request (Fastify's genReqId). */
function requestId(req: IncomingMessage & { id?: unknown }): string {
  return typeof req.id === 'string' ? req.id : requestIdOf(req);
}

/** Request logs carry no headers and no query values: nothing a token could hide in. */
function serializeRequest(req: IncomingMessage & { id?: unknown }) {
  return { id: req.id, method: req.method, url: redactUrl(req.url ?? '') };
}

function serializeResponse(res: ServerResponse) {
  return { statusCode: res.statusCode };
}

/** nestjs-pino on the root logger: request ids, redacted request lines, and Nest's own logs as JSON. */
@Module({})
export class LoggingModule {
  static forRoot(rootLogger: RootLogger): DynamicModule {
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: {
            logger: rootLogger,
            genReqId: requestId,
            serializers: { req: serializeRequest, res: serializeResponse },
            customLogLevel: (_req, res, err) =>
              err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
            // Health probes would drown everything else.
            autoLogging: { ignore: (req) => (req.url ?? '').startsWith('/health/') },
            quietReqLogger: true,
          },
        }),
      ],
      exports: [LoggerModule],
    };
  }
}
