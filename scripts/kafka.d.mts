export declare const KAFKA_VERSION: string;
export declare function brokerProperties(options: {
  clientPort: number;
  controlPort: number;
  logDirs: string;
}): Record<string, string>;
export declare function startBroker(): Promise<void>;
export declare function stopBroker(): Promise<void>;
export declare function brokerAnswers(port: number, timeoutMs?: number): Promise<boolean>;
export declare const brokerPort: number;
export interface Broker {
  readonly port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  kill(): Promise<void>;
  reset(): void;
  running(): boolean;
}
export declare function createBroker(options: {
  port: number;
  controllerPort: number;
  dataDir: string;
  heap?: string;
}): Broker;
