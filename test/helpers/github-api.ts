import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ApiRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** A loopback stand-in for the GitHub REST API: records every request, answers statuses 201. */
export async function githubApi(): Promise<{ url: string; requests: ApiRequest[]; stop(): Promise<void> }> {
  const requests: ApiRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: text ? JSON.parse(text) : null,
      });
      const status = /^\/repos\/[^/]+\/[^/]+\/statuses\/[0-9a-f]{40}$/.test(req.url ?? '') ? 201 : 404;
      res
        .writeHead(status, { 'content-type': 'application/json' })
        .end(JSON.stringify(status === 201 ? { id: requests.length } : { message: 'Not Found' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: () => new Promise((r) => server.close(() => r())),
  };
}
