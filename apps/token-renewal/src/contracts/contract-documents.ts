import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';

/** The OpenAPI document of the HTTP API, generated from the controllers' decorators. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('IAM Token Renewal')
    .setDescription(
      "AuthMe's Renew Token, Login Client and Keys endpoints. Errors are a JSON array of { code, message }.",
    )
    .setVersion('1')
    .addBearerAuth()
    .addBasicAuth()
    .build();
  return SwaggerModule.createDocument(app, config);
}

/**
 * Serves the contracts as documents: /openapi.json (HTTP) and /asyncapi.json
 * (Kafka). Raw Fastify routes, so they are not part of the documented API.
 */
export function serveContractDocuments(
  app: INestApplication,
  documents: { openapi: OpenAPIObject; asyncapi: Record<string, unknown> },
): void {
  const fastify = app.getHttpAdapter().getInstance() as {
    get(path: string, handler: (request: unknown, reply: { send(body: unknown): void }) => void): void;
  };
  fastify.get('/openapi.json', (_request, reply) => reply.send(documents.openapi));
  fastify.get('/asyncapi.json', (_request, reply) => reply.send(documents.asyncapi));
}
