/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4), so
 * that the tests look at /metrics the way a scraper does, not by substring.
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly samples: readonly Sample[];
  /** `# TYPE` of every metric family. */
  readonly types: ReadonlyMap<string, string>;
  /** `# HELP` of every metric family. */
  readonly help: ReadonlyMap<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseValue(text: string, line: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  const value = Number(text);
  if (text.trim() === '' || Number.isNaN(value)) throw new Error(`not a sample value: ${line}`);
  return value;
}

/** Labels `{a="x",b="y\"z"}` (escapes \\, \", \n), from the position after `{`; returns where it ended. */
function parseLabels(line: string, start: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let index = start;
  for (;;) {
    if (line[index] === '}') return { labels, end: index + 1 };
    const equals = line.indexOf('=', index);
    if (equals < 0) throw new Error(`malformed labels: ${line}`);
    const name = line.slice(index, equals);
    if (!LABEL_NAME.test(name)) throw new Error(`malformed label name "${name}": ${line}`);
    if (line[equals + 1] !== '"') throw new Error(`unquoted label value: ${line}`);
    let value = '';
    index = equals + 2;
    for (;;) {
      const char = line[index];
      if (char === undefined) throw new Error(`unterminated label value: ${line}`);
      if (char === '\\') {
        const next = line[index + 1];
        value += next === 'n' ? '\n' : (next ?? '');
        index += 2;
        continue;
      }
      if (char === '"') break;
      value += char;
      index += 1;
    }
    if (name in labels) throw new Error(`label ${name} repeated: ${line}`);
    labels[name] = value;
    index += 1;
    if (line[index] === ',') index += 1;
  }
}

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!match) continue; // a plain comment
      const [, kind, name, rest] = match as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`malformed metric name: ${line}`);
      (kind === 'HELP' ? help : types).set(name, rest);
      continue;
    }
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) throw new Error(`malformed sample: ${line}`);
    const name = line.slice(0, nameEnd);
    if (!NAME.test(name)) throw new Error(`malformed metric name: ${line}`);
    let labels: Record<string, string> = {};
    let rest = line.slice(nameEnd);
    if (rest.startsWith('{')) {
      const parsed = parseLabels(line, nameEnd + 1);
      labels = parsed.labels;
      rest = line.slice(parsed.end);
    }
    const [valueText, timestamp, ...extra] = rest.trim().split(/\s+/);
    if (extra.length > 0 || (timestamp !== undefined && !/^-?\d+$/.test(timestamp))) {
      throw new Error(`malformed sample: ${line}`);
    }
    samples.push({ name, labels, value: parseValue(valueText ?? '', line) });
  }
  return { samples, types, help };
}

/** The metric family a sample belongs to (`x_bucket`, `x_sum`, `x_count` of a histogram belong to `x`). */
export function familyOf(exposition: Exposition, sampleName: string): string | undefined {
  if (exposition.types.has(sampleName)) return sampleName;
  const base = sampleName.replace(/_(bucket|sum|count|total|created)$/, '');
  return exposition.types.has(base) ? base : undefined;
}

function matches(sample: Sample, labels: Record<string, string>): boolean {
  return Object.entries(labels).every(([name, value]) => sample.labels[name] === value);
}

/** Every sample of this exact name whose labels include `labels`. */
export function samplesOf(
  exposition: Exposition,
  name: string,
  labels: Record<string, string> = {},
): Sample[] {
  return exposition.samples.filter((sample) => sample.name === name && matches(sample, labels));
}

/**
 * The value of the one sample with exactly these labels (undefined when the
 * series does not exist; an error when several match, i.e. the labels are not
 * the series' full label set).
 */
export function valueOf(
  exposition: Exposition,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const found = exposition.samples.filter(
    (sample) =>
      sample.name === name &&
      Object.keys(sample.labels).length === Object.keys(labels).length &&
      matches(sample, labels),
  );
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}
