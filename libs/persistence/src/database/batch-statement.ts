/**
 * From this many rows or subjects on, a batch statement is sent unnamed:
 * planned for its own arrays and the tables as they are, every time.
 *
 * A named statement's plan is cached per connection once PostgreSQL finds it
 * no dearer than the ones it planned for the values, and it stays until the
 * tables are analyzed. One cached while the tables were small (a new
 * deployment, or any database whose autovacuum is off, as on these machines)
 * scans the whole table and compares every row with every element of the
 * array parameter: the fan-out's role facts for a 500-subject page took
 * 100–300 ms where a fresh plan answers in ~15 ms, and the write of 500
 * sessions 70 ms where one planned for its size takes 12–17 ms. Planning
 * costs 1–2 ms: nothing beside a fan-out page, too much for the few rows of a
 * renewal's or an event run's batch, which keep their cached plans. (A page's
 * plan is priced above PostgreSQL's JIT threshold, which is why the pool
 * turns JIT off: see pool.ts.)
 */
export const PLAN_EACH_TIME_FROM = 64;

/** The name to send a batch statement of `size` rows under: none (planned each time) from PLAN_EACH_TIME_FROM on. */
export function batchStatementName(name: string, size: number): string | null {
  return size < PLAN_EACH_TIME_FROM ? name : null;
}
