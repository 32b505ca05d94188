/** Injection tokens of process-wide resources and of the domain's ports (interfaces have no runtime token). */
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');
export const PG_POOL = Symbol('PG_POOL');
export const SQL = Symbol('SQL');
export const KAFKA = Symbol('KAFKA');
export const OUTBOX_SIGNAL = Symbol('OUTBOX_SIGNAL');
export const CLOCK = Symbol('CLOCK');
export const IDS = Symbol('IDS');
export const TOKEN_SIGNER = Symbol('TOKEN_SIGNER');
export const TOKEN_VERIFIER = Symbol('TOKEN_VERIFIER');
export const TOKEN_SEALER = Symbol('TOKEN_SEALER');
export const REFRESH_TOKEN_HASHER = Symbol('REFRESH_TOKEN_HASHER');
export const SECRET_HASHER = Symbol('SECRET_HASHER');
export const SESSION_REPOSITORY = Symbol('SESSION_REPOSITORY');
export const ROLE_SNAPSHOT_LOADER = Symbol('ROLE_SNAPSHOT_LOADER');
export const SESSION_TOKEN_ISSUER = Symbol('SESSION_TOKEN_ISSUER');
export const SESSION_UPDATE_ENCODER = Symbol('SESSION_UPDATE_ENCODER');
