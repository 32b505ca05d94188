import { logLevel, type LogEntry, type logCreator } from 'kafkajs';
import type { Logger } from 'pino';

type LevelName = 'error' | 'warn' | 'info' | 'debug';

const LEVEL_NAMES: Record<number, LevelName> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

interface ProtocolErrorCode {
  readonly type: string;
  readonly retriable: boolean;
  readonly message: string;
}

// kafkajs exports no table of the broker's error codes; this module of its is where its messages
// and its own retriable flags come from (kafkajs 2.2.4 is its last release, pinned by the lock file).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { errorCodes } = require('kafkajs/src/protocol/error') as { errorCodes: readonly ProtocolErrorCode[] };

/** The answers that tell a group member to re-join, which kafkajs does on its own. */
const GROUP_MEMBERSHIP_ANSWERS = new Set([
  'REBALANCE_IN_PROGRESS',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
]);

/**
 * kafkajs logs every broker answer that is an error (`Response Heartbeat(…)`, `Response
 * Metadata(…)`) at ERROR, before it retries or re-joins. At every scale-out, deploy or broker
 * restart the group rebalances and coordinators move, and an operator would be paged for answers
 * kafkajs then deals with. Those it retries (by its own table) or answers by re-joining the group are
 * logged at warn, as kafkajs logs its own "The group is rebalancing, re-joining", for as long as the
 * same answer has not gone on for a minute (see AnswerEpisodes). What it gives up on still surfaces
 * as an error: the consumer's crash, a failed send, an evicted member.
 */
const HANDLED_ANSWERS: ReadonlySet<string> = new Set(
  errorCodes
    .filter((code) => code.retriable || GROUP_MEMBERSHIP_ANSWERS.has(code.type))
    .map((code) => code.message),
);

/** How long the same handled answer stays a warning. */
const HANDLED_FOR_AT_MOST_MS = 60_000;
/** A pause this long between two of the same answer ends its episode. */
const EPISODE_GAP_MS = 30_000;

/**
 * How long each answer has been coming without a pause. kafkajs retries some
 * without end (the relay's producer: a topic deleted under it, a transaction
 * coordinator that never returns), and then its answers are the only sign:
 * past a minute they are errors again.
 */
class AnswerEpisodes {
  private readonly episodes = new Map<string, { since: number; last: number }>();

  constructor(private readonly now: () => number) {}

  lastedTooLong(answer: string): boolean {
    const now = this.now();
    const episode = this.episodes.get(answer);
    if (!episode || now - episode.last > EPISODE_GAP_MS) {
      this.episodes.set(answer, { since: now, last: now });
      return false;
    }
    episode.last = now;
    return now - episode.since > HANDLED_FOR_AT_MOST_MS;
  }
}

function levelOf(level: logLevel, log: LogEntry['log'], episodes: AnswerEpisodes): LevelName {
  const name = LEVEL_NAMES[level] ?? 'info';
  const isHandledAnswer =
    name === 'error' && log.message.startsWith('Response ') && HANDLED_ANSWERS.has(log.error);
  if (!isHandledAnswer) return name;
  return episodes.lastedTooLong(`${log.broker} ${log.message} ${log.error}`) ? 'error' : 'warn';
}

/** Routes kafkajs' own logs into the pino root logger (so they are JSON and redacted too). */
export function pinoLogCreator(logger: Logger, now: () => number = Date.now): logCreator {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  const episodes = new AnswerEpisodes(now);
  return () =>
    ({ level, log }) => {
      const { message, ...extra } = log;
      kafkaLogger[levelOf(level, log, episodes)](extra, message);
    };
}
