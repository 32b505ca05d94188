/**
 * A keep-alive HTTP/1.1 connection for the load generator, one request at a
 * time, written on the bare socket. Node's HTTP client parses a URL, builds a
 * request object and runs an agent's bookkeeping for every request: at the
 * rates measured that was a fifth of a core, taken from the 2 cores the
 * service shares with it. Like wrk, this sends bytes prepared once per request
 * and reads back only the status, the framing and the body.
 */
import { connect, type Socket } from 'node:net';

export interface Http1Response {
  readonly status: number;
  readonly body: Buffer;
}

/** Where one response ends in the bytes received so far, or `undefined` while it is incomplete. */
export interface FramedResponse extends Http1Response {
  /** Bytes of the buffer the response took. */
  readonly length: number;
  /** The server said `Connection: close`: this socket carries nothing more. */
  readonly close: boolean;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)[ \t]*(?=\r\n)/i;
const CONNECTION_CLOSE = /\r\nconnection:[ \t]*close[ \t]*(?=\r\n)/i;
/** Larger heads are not a response this benchmark's service sends. */
const MAX_HEAD_BYTES = 16 * 1024;
/**
 * A socket idle this long is replaced before the next request: the server may
 * be closing it just then (Fastify's keep-alive timeout is 72 s; Node's agent
 * reads the Keep-Alive hint for the same reason).
 */
const MAX_IDLE_MS = 30_000;

/**
 * Frames one response at the start of `buffer`. Only what the service sends is
 * accepted (a `Content-Length` body): anything else throws, and the benchmark
 * counts it as an error instead of misreading it.
 */
export function frameResponse(buffer: Buffer): FramedResponse | undefined {
  const headEnd = buffer.indexOf(HEAD_END);
  if (headEnd < 0) {
    if (buffer.length > MAX_HEAD_BYTES) throw new Error('response head too large');
    return undefined;
  }
  // The CRLF before the blank line stays in the head, so every header line starts with CRLF.
  const head = buffer.toString('latin1', 0, headEnd + 2);
  const statusLine = /^HTTP\/1\.[01] (\d{3})[ \r]/.exec(head);
  if (!statusLine) throw new Error('malformed status line');
  const contentLength = CONTENT_LENGTH.exec(head);
  if (!contentLength) throw new Error('response without Content-Length');
  const bodyStart = headEnd + HEAD_END.length;
  const length = bodyStart + Number(contentLength[1]);
  if (buffer.length < length) return undefined;
  return {
    status: Number(statusLine[1]),
    body: buffer.subarray(bodyStart, length),
    length,
    close: CONNECTION_CLOSE.test(head),
  };
}

/** Builds the bytes of a request without a body. */
export function requestBytes(
  method: string,
  target: string,
  host: string,
  headers: Record<string, string>,
): Buffer {
  let text = `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\n`;
  for (const [name, value] of Object.entries(headers)) text += `${name}: ${value}\r\n`;
  return Buffer.from(`${text}Content-Length: 0\r\n\r\n`, 'latin1');
}

/** One socket, reconnected on the next request after it closed or failed. */
export class Http1Connection {
  private socket: Socket | undefined;
  private received: Buffer = Buffer.alloc(0);
  private waiting: { resolve(response: Http1Response): void; reject(error: Error): void } | undefined;
  private lastUsed = 0;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  send(request: Buffer): Promise<Http1Response> {
    if (this.waiting) return Promise.reject(new Error('a request is already in flight'));
    const now = performance.now();
    if (now - this.lastUsed > MAX_IDLE_MS) this.close();
    this.lastUsed = now;
    const socket = this.socket ?? this.open();
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      socket.write(request);
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private open(): Socket {
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    this.received = Buffer.alloc(0);
    // Events of a socket this connection has already given up on must not touch its successor.
    const current = () => this.socket === socket;
    socket.on('data', (chunk: Buffer) => current() && this.onData(chunk));
    socket.on('error', (error) => current() && this.fail(error));
    socket.on('close', () => current() && this.fail(new Error('connection closed')));
    this.socket = socket;
    return socket;
  }

  private onData(chunk: Buffer): void {
    this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
    let framed: FramedResponse | undefined;
    try {
      framed = frameResponse(this.received);
    } catch (error) {
      return this.fail(error as Error);
    }
    if (!framed) return;
    if (!this.waiting || this.received.length > framed.length)
      return this.fail(new Error('response nobody asked for'));
    const { resolve } = this.waiting;
    this.waiting = undefined;
    this.received = Buffer.alloc(0);
    if (framed.close) this.close();
    resolve(framed);
  }

  private fail(error: Error): void {
    this.close();
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(error);
  }
}
