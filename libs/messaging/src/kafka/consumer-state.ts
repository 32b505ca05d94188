/**
 * What the input consumer is doing, for readiness: ready means it has joined
 * its group (so partitions are assigned and records flow).
 */
export class ConsumerState {
  private joined = false;
  private crashed: Error | undefined;

  markJoined(): void {
    this.joined = true;
  }

  markLeft(): void {
    this.joined = false;
  }

  markCrashed(error: Error): void {
    this.joined = false;
    this.crashed = error;
  }

  get ready(): boolean {
    return this.joined && this.crashed === undefined;
  }

  get status(): string {
    if (this.crashed) return `crashed: ${this.crashed.message}`;
    return this.joined ? 'joined' : 'not joined';
  }
}
