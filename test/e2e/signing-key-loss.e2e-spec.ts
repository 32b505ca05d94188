import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Application } from '../support/applications';
import { events, publish } from '../support/events';
import { waitForSharedTopic } from '../support/kafka';
import { createDeployment, runCli, ServiceInstance, type Deployment } from '../support/service';
import { SessionUpdateLog } from '../support/session-updates';
import { tearDownSuite } from '../support/suite';

const USERS = Array.from({ length: 12 }, (_, i) => `keyloss-user-${String(i).padStart(2, '0')}`);
/** The instances refresh every 10 s and sign for 30 s after their last good read; then the fault shows. */
const FAULT_SHOWS_WITHIN_MS = 75_000;

/**
 * Two instances of one deployment, the second with a keys directory of its own
 * that a rotation does not reach (a volume not mounted, a secret not synced).
 * Once it may no longer sign on what it read before, and the key is older than
 * its propagation grace, it stops, naming the key, and the first takes its
 * partitions: no change waits on an instance that cannot sign.
 */
describe('an instance that cannot read the active signing key (e2e)', () => {
  let deployment: Deployment;
  let first: ServiceInstance;
  let second: ServiceInstance | undefined;
  let updates: SessionUpdateLog;
  let secondKeysDir: string;

  beforeAll(async () => {
    deployment = await createDeployment('keyloss', { SESSION_UPDATE_PLAINTEXT: 'true' });
    first = await ServiceInstance.start(deployment);
    secondKeysDir = mkdtempSync(join(tmpdir(), `${deployment.id}-second-keys-`));
    // The key the first instance generated, and nothing the rotation below adds.
    cpSync(deployment.signingKeysDir, secondKeysDir, { recursive: true });
    second = await ServiceInstance.start(deployment, {
      // Not the 5 minutes a shared volume may need to show a new key: this one never will.
      env: { SIGNING_KEYS_DIR: secondKeysDir, SIGNING_KEY_PROPAGATION_GRACE: '1s' },
    });
    updates = await SessionUpdateLog.open(deployment);
  });
  afterAll(async () => {
    if (second?.running) await second.stop();
    await tearDownSuite({ deployment, services: [first], readers: [updates] });
    rmSync(secondKeysDir, { recursive: true, force: true });
  });

  it('stops once it may no longer sign, and the other instance takes over its partitions', async () => {
    const shares = await waitForSharedTopic(deployment.groupId, deployment.topics.roleChanges, 2);
    expect(shares.flat().sort()).toEqual([0, 1, 2, 3]);
    const app = await Application.register(first, 'keyloss-app');
    for (const user of USERS) await app.session(user);

    const rotation = await runCli(deployment, ['keys', 'rotate']);
    expect(rotation.code, rotation.stderr).toBe(0);
    const newKid = /^active key: (\S+)$/m.exec(rotation.stdout)?.[1];
    expect(newKid).toBeDefined();

    const code = await Promise.race([
      second!.exited(),
      new Promise<'still running'>((r) => setTimeout(() => r('still running'), FAULT_SHOWS_WITHIN_MS)),
    ]);
    expect(code).toBe(1);
    const fatal = second!.logs.find((line) => line.includes('unrecoverable failure; stopping the service'));
    expect(fatal).toContain(newKid!);
    expect(fatal).toContain('SigningKeyFileMissingError');

    // One member holds every partition now, and applies changes on all of them with the new key.
    const taken = await waitForSharedTopic(deployment.groupId, deployment.topics.roleChanges, 1);
    expect(taken.flat().sort()).toEqual([0, 1, 2, 3]);
    const changes = USERS.map((user) => events.userRoleGranted(user, 'AFTER-THE-ROTATION'));
    await publish(deployment.topics.roleChanges, changes);
    for (const change of changes) {
      const [update] = await updates.waitForCause(change.id);
      const data = update!.event.data as { accessToken: string; authorities: string[] };
      expect(data.authorities).toContain('ROLE_AFTER-THE-ROTATION');
      expect(decodeProtectedHeader(data.accessToken).kid).toBe(newKid);
    }
  });
});
