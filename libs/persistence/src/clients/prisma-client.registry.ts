import { randomUUID } from 'node:crypto';
import type { ClientCredentials, ClientCredentialStore } from '@iam/domain';
import type { PrismaService } from '../database/prisma.service';

export interface ClientRegistration {
  readonly clientId: string;
  readonly secretHash: string;
  readonly roles: readonly string[];
  readonly scopes: readonly string[];
  /** The service the application belongs to (groups can hold services); defaults to the client itself. */
  readonly serviceId: string | null;
}

export interface RegisteredClient {
  readonly clientId: string;
  readonly roles: string[];
  readonly scopes: string[];
  readonly serviceId: string | null;
  readonly hasSecret: boolean;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/**
 * Clients as operators register them (CLI) and as Login Client reads them.
 * Roles are the same last-writer-wins facts events write: registering sets the
 * client's roles to exactly the given list, as of now.
 */
export class PrismaClientRegistry implements ClientCredentialStore {
  constructor(private readonly prisma: PrismaService) {}

  async find(clientId: string): Promise<ClientCredentials | null> {
    const client = await this.prisma.client.findUnique({
      where: { id: clientId },
      select: { secretHash: true, scopes: true, roles: { where: { present: true }, select: { role: true } } },
    });
    if (!client) return null;
    return {
      secretHash: client.secretHash,
      scopes: client.scopes,
      roles: client.roles.map((row) => row.role),
    };
  }

  /** Creates or updates a client; running it twice with the same input changes nothing visible. */
  async register(registration: ClientRegistration): Promise<void> {
    const changedAt = new Date();
    const eventId = `operator:${randomUUID()}`;
    const wanted = new Set(registration.roles);
    await this.prisma.$transaction(async (tx) => {
      await tx.client.upsert({
        where: { id: registration.clientId },
        create: {
          id: registration.clientId,
          secretHash: registration.secretHash,
          scopes: [...registration.scopes],
          serviceId: registration.serviceId,
        },
        update: {
          secretHash: registration.secretHash,
          scopes: [...registration.scopes],
          serviceId: registration.serviceId,
        },
      });
      const held = await tx.clientRole.findMany({
        where: { clientId: registration.clientId, present: true },
      });
      const revoked = held.filter((row) => !wanted.has(row.role)).map((row) => row.role);
      if (revoked.length > 0) {
        await tx.clientRole.updateMany({
          where: { clientId: registration.clientId, role: { in: revoked } },
          data: { present: false, changedAt, eventId },
        });
      }
      for (const role of wanted) {
        await tx.clientRole.upsert({
          where: { clientId_role: { clientId: registration.clientId, role } },
          create: { clientId: registration.clientId, role, present: true, changedAt, eventId },
          update: { present: true, changedAt, eventId },
        });
      }
    });
  }

  async list(): Promise<RegisteredClient[]> {
    const clients = await this.prisma.client.findMany({
      orderBy: { id: 'asc' },
      include: { roles: { where: { present: true }, orderBy: { role: 'asc' } } },
    });
    return clients.map((client) => ({
      clientId: client.id,
      roles: client.roles.map((row) => row.role),
      scopes: client.scopes,
      serviceId: client.serviceId,
      hasSecret: client.secretHash !== null,
      createdAt: client.createdAt,
      updatedAt: client.updatedAt,
    }));
  }
}
