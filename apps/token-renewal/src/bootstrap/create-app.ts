import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Partitioners } from 'kafkajs';
import type { AppConfig } from '@iam/config';
import {
  ConsumerState,
  InputTopicsKafkaServer,
  buildAsyncApiDocument,
  inputTopics,
  kafkaClientConfig,
} from '@iam/messaging';
import { logAccess, PinoLoggerService, ServiceMetrics, type RootLogger } from '@iam/observability';
import { AppModule } from '../app.module';
import { ShutdownSignal } from '../lifecycle/shutdown-signal';
import { recordHttpMetrics } from '../metrics/http-metrics';
import { buildOpenApiDocument, serveContractDocuments } from '../contracts/contract-documents';
import { echoRequestIds, fastifyOptions, registerBodyParsers } from './fastify-options';

/**
 * Builds the hybrid application: Fastify for HTTP and Nest's Kafka transport
 * for the two input topics, in one process sharing one module graph.
 */
export async function createApp(config: AppConfig, rootLogger: RootLogger): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config, rootLogger),
    new FastifyAdapter(fastifyOptions(config.http.bodyLimitBytes)),
    { bufferLogs: true, abortOnError: false, bodyParser: false },
  );
  app.useLogger(new PinoLoggerService(rootLogger));
  registerBodyParsers(app.getHttpAdapter().getInstance());
  echoRequestIds(app.getHttpAdapter().getInstance());
  logAccess(app.getHttpAdapter().getInstance(), rootLogger);
  recordHttpMetrics(app.getHttpAdapter().getInstance(), app.get(ServiceMetrics));
  serveContractDocuments(app, {
    openapi: buildOpenApiDocument(app),
    asyncapi: buildAsyncApiDocument(config),
  });

  app.connectMicroservice(
    {
      strategy: new InputTopicsKafkaServer(
        {
          client: kafkaClientConfig(config, rootLogger, ''),
          consumer: {
            groupId: config.kafka.groupId,
            allowAutoTopicCreation: false,
            sessionTimeout: 30_000,
            heartbeatInterval: 3_000,
            readUncommitted: false,
            // A fetch is decoded whole before its first run (up to 8 partitions at once): ~500
            // change events a partition per fetch keep that small next to the service's heap cap.
            maxBytesPerPartition: 256 * 1024,
            maxBytes: 2 * 1024 * 1024,
            // minBytes stays 1 (answer as soon as there is data): holding fetches 25 ms for 64 KiB
            // saved ~0.15 cores at 300 events/s but cost ~0.12 cores when idle (measured: broker and
            // service sampled after start), up to 40 empty fetches a second by arithmetic
            // (docs/benchmarks-history.md, eighth session).
            // An idle fetch waits 1 s rather than kafkajs' 5: a partition resumed after a hand-off
            // (PartitionHandOffs) joins the fetch after the one in flight, which waits that long when
            // the other partitions are quiet. Measured idle, 60 s each: broker 0.073-0.089 cores
            // against 0.058-0.075 with 5 s, the service 0.07-0.11 either way (fourteenth session).
            maxWaitTimeInMs: 1_000,
          },
          // Nest's server also opens a producer (for replies we never send); keep it quiet and Java-compatible.
          producer: { createPartitioner: Partitioners.DefaultPartitioner },
          subscribe: { fromBeginning: true },
          run: {
            // The handler returns once the change is committed in PostgreSQL; only then is the
            // offset resolved, and resolved offsets are what kafkajs commits.
            autoCommit: true,
            autoCommitInterval: 1_000,
            partitionsConsumedConcurrently: config.kafka.consumerConcurrency,
          },
          postfixId: '',
        },
        inputTopics(config),
        {
          state: app.get(ConsumerState),
          logger: rootLogger.child({ component: 'consumer' }),
          handOffLimit: config.kafka.consumerConcurrency,
          shutdown: app.get(ShutdownSignal).signal,
        },
      ),
    },
    // The HTTP exception filter is HTTP's: the consumer reports its own failures (see InboundRecordProcessor).
    { inheritAppConfig: false },
  );
  return app;
}
