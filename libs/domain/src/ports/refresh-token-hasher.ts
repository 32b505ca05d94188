/** Refresh tokens are stored only as a one-way hash of the opaque value. */
export interface RefreshTokenHasher {
  hash(token: string): string;
}
