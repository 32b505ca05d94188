import { authorities } from '../../support/applications';
import { events, type InboundCloudEvent } from '../../support/events';
import { seededRandom } from '../../support/seeded-random';

/** What every session of the fault tests carries besides the user's own roles: client roles and auth level. */
export const BASE_ROLES = ['CLI-AUTH-IDENTIFIED', 'CLI-1STPARTY', 'AUTH-BASIC'] as const;

/** One step of a user's expected history: the event, and the authorities every session of the user has after it. */
export interface ExpectedStep {
  readonly eventId: string;
  readonly eventType: string;
  readonly authorities: readonly string[];
}

/** The independent model: per user, the steps in the order the events were sent, and the final state. */
export interface UserModel {
  readonly steps: ExpectedStep[];
  readonly roles: Set<string>;
  /** Authorities before any event (the session's first token) and after the last one. */
  readonly initial: readonly string[];
  final: readonly string[];
}

export interface RoleToggleStream {
  readonly users: readonly string[];
  readonly events: readonly InboundCloudEvent[];
  readonly model: ReadonlyMap<string, UserModel>;
}

/**
 * A stream of `iam.user.role.granted` / `iam.user.role.revoked` events across
 * `users`, each event toggling one role of one user (granted when the model
 * says the user lacks it, revoked when the user holds it). Every event thus
 * changes its user's authorities, so each one must re-issue exactly one token
 * per session of that user: the model knows, per session, the exact sequence
 * of updates the topic must carry.
 */
export function roleToggleStream(options: {
  users: readonly string[];
  roles: readonly string[];
  length: number;
  seed: number;
}): RoleToggleStream {
  const next = seededRandom(options.seed);
  const initial = authorities(...BASE_ROLES);
  const model = new Map<string, UserModel>(
    options.users.map((user) => [user, { steps: [], roles: new Set<string>(), initial, final: initial }]),
  );
  const stream: InboundCloudEvent[] = [];
  for (let i = 0; i < options.length; i += 1) {
    const user = options.users[Math.floor(next() * options.users.length)]!;
    const role = options.roles[Math.floor(next() * options.roles.length)]!;
    const state = model.get(user)!;
    const grant = !state.roles.has(role);
    const event = grant ? events.userRoleGranted(user, role) : events.userRoleRevoked(user, role);
    if (grant) state.roles.add(role);
    else state.roles.delete(role);
    state.final = authorities(...BASE_ROLES, ...state.roles);
    state.steps.push({ eventId: event.id, eventType: event.type, authorities: state.final });
    stream.push(event);
  }
  return { users: options.users, events: stream, model };
}
