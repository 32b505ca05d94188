/** A dry run's transaction failed: it is abandoned, since nothing more can run in it. */
export class DryRunAbandonedError extends Error {
  constructor(failure: unknown) {
    const { message, code } = failure as { message?: string; code?: string };
    // Never transient (isDatabaseUnavailable says so first): retrying inside a transaction
    // PostgreSQL has aborted only fails again. Not `cause` either, for the same classifier.
    super(
      `the dry run's transaction failed and nothing was changed; run it again` +
        (code === '55P03'
          ? ' (live traffic held a row it needed: try a shorter range, or a quieter time)'
          : '') +
        `: ${code ? `${code} ` : ''}${message ?? String(failure)}`,
    );
    this.name = 'DryRunAbandonedError';
  }
}
