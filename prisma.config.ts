import { defineConfig } from 'prisma/config';

// Used by the Prisma CLI only (generate, and migrate deploy where the schema
// engine can be downloaded). The service reads DATABASE_URL through its own
// validated configuration.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/iam_token_renewal' },
});
