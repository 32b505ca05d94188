/**
 * Every group reachable from the start groups by following dependencies,
 * the start groups included. Iterative and visited-set based: a cycle or a
 * very deep chain terminates and cannot overflow the stack.
 */
export function groupClosure(
  startGroupIds: Iterable<string>,
  dependenciesOf: (groupId: string) => readonly string[],
): Set<string> {
  const reached = new Set<string>();
  const pending = [...startGroupIds];
  while (pending.length > 0) {
    const groupId = pending.pop()!;
    if (reached.has(groupId)) continue;
    reached.add(groupId);
    for (const dependency of dependenciesOf(groupId)) {
      if (!reached.has(dependency)) pending.push(dependency);
    }
  }
  return reached;
}
