/** Injection tokens of the process-wide resources the app's modules share. */
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');
export const PG_POOL = Symbol('PG_POOL');
export const KAFKA = Symbol('KAFKA');
