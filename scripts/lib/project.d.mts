export declare const root: string;
export declare const SERVICE_NODE_ARGS: readonly string[];
export declare const SERVICE_ENV: Readonly<Record<string, string>>;
export declare function ensureInstalled(): void;
export declare function ensureBuilt(): void;
export declare function localPostgresUrl(database: string): string;
export declare function localEnvironment(brokerPort: number): {
  keysDir: string;
  env: Record<string, string>;
};
