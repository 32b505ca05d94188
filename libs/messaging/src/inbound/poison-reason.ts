/** Why a record can never be processed; written to the dead letter's `dlq-reason` header. */
export const PoisonReason = {
  Empty: 'empty-record',
  TooLarge: 'too-large',
  NotJson: 'not-json',
  NotCloudEvent: 'not-a-cloudevent',
  UnknownSchemaVersion: 'unknown-schema-version',
  UnknownType: 'unknown-type',
  InvalidPayload: 'invalid-payload',
} as const;

export type PoisonReasonCode = (typeof PoisonReason)[keyof typeof PoisonReason];

export interface Poison {
  readonly reason: PoisonReasonCode;
  /** A human-readable explanation, without the record's content. */
  readonly detail: string;
  /** The CloudEvents id, when the record got far enough to have one. */
  readonly eventId?: string;
}
