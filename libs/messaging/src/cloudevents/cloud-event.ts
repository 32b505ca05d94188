/** The content type of a CloudEvent in structured JSON mode (the record value is the event). */
export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json';

/** The CloudEvents source this service writes on what it publishes. */
export const SERVICE_EVENT_SOURCE = '/iam/token-renewal';

export interface OutboundCloudEvent<TData> {
  readonly specversion: '1.0';
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly time: string;
  readonly subject: string;
  readonly datacontenttype: 'application/json';
  readonly data: TData;
}

export function cloudEvent<TData>(attributes: {
  id: string;
  type: string;
  subject: string;
  time: Date;
  data: TData;
}): OutboundCloudEvent<TData> {
  return {
    specversion: '1.0',
    id: attributes.id,
    source: SERVICE_EVENT_SOURCE,
    type: attributes.type,
    time: attributes.time.toISOString(),
    subject: attributes.subject,
    datacontenttype: 'application/json',
    data: attributes.data,
  };
}
