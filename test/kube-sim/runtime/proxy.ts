/**
 * A Service's stand-in for kube-proxy: a TCP listener on a free loopback port that hands
 * each new connection to the next ready pod (round robin). Pods that are not ready or are
 * terminating get no new connections; a connection already made stays with its pod.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class TcpProxy {
  private next = 0;
  private readonly sockets = new Set<Socket>();
  /** Connections accepted while no backend was ready (closed at once, like a REJECT). */
  rejected = 0;
  accepted = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly backends: () => number[],
  ) {}

  static async start(backends: () => number[]): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('proxy has no port');
    const proxy = new TcpProxy(server, address.port, backends);
    server.on('connection', (client) => proxy.forward(client));
    return proxy;
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
  }

  private forward(client: Socket): void {
    this.track(client);
    const ports = this.backends();
    if (ports.length === 0) {
      this.rejected++;
      client.destroy();
      return;
    }
    this.accepted++;
    const port = ports[this.next++ % ports.length] as number;
    const upstream = connect({ host: '127.0.0.1', port });
    this.track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', () => upstream.end());
    upstream.on('close', () => client.end());
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }
}
