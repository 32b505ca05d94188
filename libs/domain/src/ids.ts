/** Ids are opaque strings (24-hex in AuthMe): printable, no whitespace or control characters, 1–256 long. */
const ID = /^[^\s\p{Cc}]{1,256}$/u;
/** A surrogate half without its other half: not Unicode text, and not storable as UTF-8. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Whether a string may be an id. The same rule guards HTTP parameters and event
 * payloads: anything else (a NUL byte, a lone surrogate) would be rejected or
 * silently rewritten by the database, so it is refused at the edge instead.
 */
export function isValidId(value: string): boolean {
  return ID.test(value) && !LONE_SURROGATE.test(value);
}

/** Whether a string is well-formed Unicode (no lone surrogate halves). */
export function isWellFormedText(value: string): boolean {
  return !LONE_SURROGATE.test(value);
}
