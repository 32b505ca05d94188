/** Random identifiers: token ids, session ids, event ids and opaque refresh tokens (UUID v4). */
export interface IdGenerator {
  uuid(): string;
}
