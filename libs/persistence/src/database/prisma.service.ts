import { PrismaPg } from '@prisma/adapter-pg';
import type { Pool } from 'pg';
import { PrismaClient } from '../generated/prisma/client';

/** The Prisma client over the shared pg pool (driver adapter: no native engine needed). */
export class PrismaService extends PrismaClient {
  constructor(pool: Pool) {
    super({ adapter: new PrismaPg(pool) });
  }
}
