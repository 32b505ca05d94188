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
