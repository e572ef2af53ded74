import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy to a database that can go quiet: while stalled, nothing passes in either direction and
 * new connections hang, as with a half-open connection or a frozen server; `resume()` lets it all through.
 */
export class StallingProxy {
  private stalled = false;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static start(targetPort: number): Promise<StallingProxy> {
    const server = createServer();
    return new Promise((resolve) => {
      server.listen(0, '127.0.0.1', () => {
        const proxy = new StallingProxy(server, (server.address() as { port: number }).port);
        server.on('connection', (client) => proxy.pipe(client, targetPort));
        resolve(proxy);
      });
    });
  }

  stall(): void {
    this.stalled = true;
    for (const socket of this.sockets) socket.pause();
  }

  resume(): void {
    this.stalled = false;
    for (const socket of this.sockets) socket.resume();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private pipe(client: Socket, targetPort: number): void {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.sockets.add(from);
      if (this.stalled) from.pause();
      from.on('data', (chunk) => to.write(chunk));
      from.on('close', () => {
        this.sockets.delete(from);
        to.destroy();
      });
      from.on('error', () => to.destroy());
    }
  }
}
