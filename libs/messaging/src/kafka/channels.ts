import type { AppConfig } from '@iam/config';
import { BUSINESS_CHANGE_TYPES, ROLE_CHANGE_TYPES } from '@iam/domain';

/**
 * The input channels handlers subscribe to. Handlers name a channel, never a
 * topic: the topic behind each channel comes from configuration.
 */
export const InputChannel = {
  RoleChanges: 'role-changes',
  BusinessChanges: 'business-changes',
} as const;

export type InputChannelName = (typeof InputChannel)[keyof typeof InputChannel];

export const CHANNEL_EVENT_TYPES: Record<InputChannelName, ReadonlySet<string>> = {
  [InputChannel.RoleChanges]: new Set(ROLE_CHANGE_TYPES),
  [InputChannel.BusinessChanges]: new Set(BUSINESS_CHANGE_TYPES),
};

export function inputTopics(config: AppConfig): Record<InputChannelName, string> {
  return {
    [InputChannel.RoleChanges]: config.kafka.topics.roleChanges,
    [InputChannel.BusinessChanges]: config.kafka.topics.businessChanges,
  };
}
