import { z } from 'zod';
import { parseRfc3339 } from './rfc3339';
import { EventType, isValidId, isWellFormedText, type InboundEventTypeName } from '@iam/domain';

// Ids are opaque strings (24-hex in AuthMe): 1–256 characters (code points, as JSON Schema counts
// them), no whitespace or control characters, well-formed Unicode — the rule HTTP ids follow too.
const id = z
  .string()
  .regex(/^[^\s\p{Cc}]+$/u, 'must be a non-empty string without whitespace or control characters')
  .refine(isValidId, 'must be 1 to 256 characters of well-formed Unicode')
  .meta({ minLength: 1, maxLength: 256 });
const role = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/, 'must be a role name such as BUSINESSOWNER or CLI-1STPARTY');

const userRole = z.object({ userId: id, role });
const user = z.object({ userId: id });
const clientRole = z.object({ clientId: id, role });
const groupRole = z.object({ groupId: id, role });
const groupMember = z.object({
  groupId: id,
  memberType: z.enum(['USER', 'BUSINESS', 'SERVICE']),
  memberId: id,
});
const groupDependency = z
  .object({ groupId: id, dependsOnGroupId: id })
  .refine((data) => data.groupId !== data.dependsOnGroupId, 'a group cannot depend on itself');
const group = z.object({ groupId: id });
const businessRole = z.object({ businessId: id, role });
const businessMemberAdded = z.object({ businessId: id, userId: id, roles: z.array(role).max(64) });
const businessMember = z.object({ businessId: id, userId: id });
const businessMemberRole = z.object({ businessId: id, userId: id, role });
const business = z.object({ businessId: id });

/** The `data` schema of every inbound type, and which field names the event's subject. */
export const CHANGE_SCHEMAS: Record<InboundEventTypeName, { schema: z.ZodType; subjectField: string }> = {
  [EventType.UserRoleGranted]: { schema: userRole, subjectField: 'userId' },
  [EventType.UserRoleRevoked]: { schema: userRole, subjectField: 'userId' },
  [EventType.UserLocked]: { schema: user, subjectField: 'userId' },
  [EventType.UserUnlocked]: { schema: user, subjectField: 'userId' },
  [EventType.ClientRoleGranted]: { schema: clientRole, subjectField: 'clientId' },
  [EventType.ClientRoleRevoked]: { schema: clientRole, subjectField: 'clientId' },
  [EventType.GroupRoleGranted]: { schema: groupRole, subjectField: 'groupId' },
  [EventType.GroupRoleRevoked]: { schema: groupRole, subjectField: 'groupId' },
  [EventType.GroupMemberAdded]: { schema: groupMember, subjectField: 'groupId' },
  [EventType.GroupMemberRemoved]: { schema: groupMember, subjectField: 'groupId' },
  [EventType.GroupDependencyAdded]: { schema: groupDependency, subjectField: 'groupId' },
  [EventType.GroupDependencyRemoved]: { schema: groupDependency, subjectField: 'groupId' },
  [EventType.GroupDeleted]: { schema: group, subjectField: 'groupId' },
  [EventType.BusinessRoleGranted]: { schema: businessRole, subjectField: 'businessId' },
  [EventType.BusinessRoleRevoked]: { schema: businessRole, subjectField: 'businessId' },
  [EventType.BusinessMemberAdded]: { schema: businessMemberAdded, subjectField: 'businessId' },
  [EventType.BusinessMemberRemoved]: { schema: businessMember, subjectField: 'businessId' },
  [EventType.BusinessMemberRoleGranted]: { schema: businessMemberRole, subjectField: 'businessId' },
  [EventType.BusinessMemberRoleRevoked]: { schema: businessMemberRole, subjectField: 'businessId' },
  [EventType.BusinessDeactivated]: { schema: business, subjectField: 'businessId' },
};

/** The CloudEvents 1.0 attributes required of every inbound event (structured JSON mode). */
export const envelopeSchema = z.object({
  specversion: z.literal('1.0'),
  id,
  source: z.string().min(1).max(1_024).refine(isWellFormedText, 'must be well-formed Unicode'),
  type: z.string().min(1).max(256),
  time: z
    .string()
    .regex(
      /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/,
      'must be an RFC 3339 timestamp',
    )
    .refine((time) => parseRfc3339(time) !== undefined, 'must be a valid instant'),
  subject: id,
  datacontenttype: z.literal('application/json').optional(),
  data: z.record(z.string(), z.unknown()),
});
