/** A Renew Token request, as the HTTP edge parsed it (http-api.md §1). */
export interface RenewTokenCommand {
  /** The caller's bearer token (the application, or the user's token issued to it). */
  readonly callerToken: string | undefined;
  /** The user's current access token, or the session's current refresh token. */
  readonly token: string | undefined;
  readonly rememberMe: boolean;
  readonly clientId: string | undefined;
  readonly userId: string | undefined;
  /** Our extension: switch the session to act for this business. */
  readonly businessId: string | undefined;
}

export interface RenewTokenResult {
  readonly accessToken: string;
  /** Issued when the user chose remember-me. */
  readonly refreshToken: string | undefined;
  readonly expiresAt: Date;
  readonly scope: readonly string[];
}
