const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|([+-])(\d{2}):(\d{2}))$/;

const daysInMonth = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

/**
 * Parses an RFC 3339 timestamp strictly (no 30 February, no 24:00), to the
 * millisecond. A leap second (:60) is allowed, as the RFC allows it, and read as
 * the last millisecond of its minute. Returns undefined when the text is not one.
 */
export function parseRfc3339(text: string): Date | undefined {
  const match = RFC3339.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  const offsetSign = match[9] === '-' ? -1 : 1;
  const offsetHours = Number(match[10] ?? 0);
  const offsetMinutes = Number(match[11] ?? 0);
  if (offsetHours > 23 || offsetMinutes > 59) return undefined;
  const milliseconds = second === 60 ? 999 : Math.floor(Number(`0${match[7] ?? ''}`) * 1_000);
  const utc = Date.UTC(year, month - 1, day, hour, minute, Math.min(second, 59), milliseconds);
  return new Date(utc - offsetSign * (offsetHours * 60 + offsetMinutes) * 60_000);
}
