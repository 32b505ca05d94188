import type { Pool } from 'pg';

/** A node of PostgreSQL's EXPLAIN (FORMAT JSON) plan tree. */
export type PlanNode = Record<string, unknown>;

/** The plan PostgreSQL chooses for a statement with these values (not run). */
export async function explain(pool: Pool, statement: string, values: readonly unknown[]): Promise<PlanNode> {
  const result = await pool.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
    `EXPLAIN (FORMAT JSON) ${statement}`,
    [...values],
  );
  return result.rows[0]!['QUERY PLAN'][0]!.Plan;
}

function nodes(plan: PlanNode): PlanNode[] {
  const children = (plan.Plans as PlanNode[] | undefined) ?? [];
  return [plan, ...children.flatMap(nodes)];
}

/** The node types of every scan of a table (an UPDATE's own node names its table too, and is left out). */
export function scansOf(plan: PlanNode, table: string): string[] {
  return nodes(plan)
    .filter((node) => node['Relation Name'] === table && String(node['Node Type']).endsWith('Scan'))
    .map((node) => String(node['Node Type']));
}

/** Every index the plan reads, in plan order (a bitmap scan names its index on a child node). */
export function indexesRead(plan: PlanNode): string[] {
  return nodes(plan).flatMap((node) => (typeof node['Index Name'] === 'string' ? [node['Index Name']] : []));
}

/** Every condition the plan gives an index to search with (as opposed to filtering what it read). */
export function indexConditions(plan: PlanNode): string[] {
  return nodes(plan).flatMap((node) => (typeof node['Index Cond'] === 'string' ? [node['Index Cond']] : []));
}
