import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Http1Connection, frameResponse, requestBytes } from './http1-connection';

const response = (head: string, body = '') => Buffer.from(`${head}\r\n\r\n${body}`, 'latin1');

describe('frameResponse', () => {
  it('frames a response by its Content-Length, whatever the header case', () => {
    const bytes = response(
      'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nCONTENT-LENGTH: 7',
      '{"a":1}',
    );

    const framed = frameResponse(bytes);

    expect(framed).toMatchObject({ status: 200, length: bytes.length, close: false });
    expect(framed?.body.toString()).toBe('{"a":1}');
  });

  it('waits while the head or the body is incomplete', () => {
    const bytes = response('HTTP/1.1 412 Precondition Failed\r\nContent-Length: 10', '0123456789');

    expect(frameResponse(bytes.subarray(0, 20))).toBeUndefined();
    expect(frameResponse(bytes.subarray(0, bytes.length - 1))).toBeUndefined();
    expect(frameResponse(bytes)?.status).toBe(412);
  });

  it('reports where the response ends when more bytes follow it', () => {
    const first = response('HTTP/1.1 200 OK\r\nContent-Length: 2', 'ok');

    expect(frameResponse(Buffer.concat([first, Buffer.from('HTTP/1.1')]))?.length).toBe(first.length);
  });

  it('notices Connection: close', () => {
    expect(frameResponse(response('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0'))?.close).toBe(
      true,
    );
  });

  it('refuses what it cannot frame instead of misreading it', () => {
    expect(() => frameResponse(response('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked'))).toThrow(
      'without Content-Length',
    );
    expect(() => frameResponse(response('garbage\r\nContent-Length: 0'))).toThrow('malformed status line');
    expect(() => frameResponse(Buffer.alloc(20_000, 'a'))).toThrow('too large');
  });

  it('does not take a header whose name merely ends in content-length', () => {
    expect(() => frameResponse(response('HTTP/1.1 200 OK\r\nX-Content-Length: 3', 'abc'))).toThrow(
      'without Content-Length',
    );
  });
});

describe('Http1Connection against a Node HTTP server', () => {
  let server: Server;
  let port: number;
  const seen: Array<{ method?: string; url?: string; authorization?: string }> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization });
      req.resume();
      req.on('end', () => {
        if (req.url === '/close') res.setHeader('Connection', 'close');
        res.statusCode = req.url === '/missing' ? 404 : 200;
        res.end(JSON.stringify({ url: req.url }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const send = (connection: Http1Connection, path: string) =>
    connection.send(requestBytes('POST', path, `127.0.0.1:${port}`, { Authorization: 'Bearer abc' }));

  it('sends requests one after another on one kept-alive socket', async () => {
    const connection = new Http1Connection('127.0.0.1', port);
    let sockets = 0;
    server.on('connection', () => (sockets += 1));

    for (let i = 0; i < 3; i += 1) {
      const answer = await send(connection, `/renew?n=${i}`);
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body.toString())).toEqual({ url: `/renew?n=${i}` });
    }
    expect((await send(connection, '/missing')).status).toBe(404);
    connection.close();

    expect(sockets).toBe(1);
    expect(seen.at(-1)).toEqual({ method: 'POST', url: '/missing', authorization: 'Bearer abc' });
  });

  it('closes its socket when the response says Connection: close, and opens a new one', async () => {
    const connection = new Http1Connection('127.0.0.1', port);

    expect((await send(connection, '/close')).status).toBe(200);
    expect((await send(connection, '/after')).status).toBe(200);
    connection.close();
  });

  it('opens a new socket after the server closed an idle one', async () => {
    const connection = new Http1Connection('127.0.0.1', port);
    const closed = new Promise<void>((resolve) =>
      server.once('connection', (socket) => socket.once('close', () => resolve())),
    );
    expect((await send(connection, '/first')).status).toBe(200);
    server.closeIdleConnections();
    await closed;
    // The client sees the server's FIN a turn or two of its event loop later.
    await new Promise((resolve) => setTimeout(resolve, 50));

    expect((await send(connection, '/again')).status).toBe(200);
    connection.close();
  });

  it('rejects a request whose connection fails, and refuses a second one in flight', async () => {
    const refused = new Http1Connection('127.0.0.1', 1);
    await expect(send(refused, '/x')).rejects.toThrow();

    const connection = new Http1Connection('127.0.0.1', port);
    const first = send(connection, '/first');
    await expect(send(connection, '/second')).rejects.toThrow('already in flight');
    expect((await first).status).toBe(200);
    connection.close();
  });
});
