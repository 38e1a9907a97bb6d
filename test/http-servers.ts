/**
 * HTTP servers for the WebDataset tests, on 127.0.0.1 only: nginx (Debian nginx-light) started
 * with a config in a temporary folder (no daemon, no root paths), and small node:http servers
 * that misbehave on purpose (cut a body mid-way, ignore Range, never answer).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createReadStream, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';

/** The nginx binary, if installed (Debian puts it in /usr/sbin, which may not be on PATH). */
export function findNginx(): string | null {
  for (const candidate of ['nginx', '/usr/sbin/nginx']) {
    if (spawnSync(candidate, ['-v']).status === 0) return candidate;
  }
  return null;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A running nginx serving `root` with Range support; `requests()` reads its access log. */
export interface Nginx {
  url: string;
  requests(): string[];
  stop(): Promise<void>;
}

/** Starts nginx in the foreground (master_process off) on a free loopback port, serving `root`. */
export async function startNginx(binary: string, root: string, work: string): Promise<Nginx> {
  mkdirSync(work, { recursive: true });
  const port = await freePort();
  const log = join(work, 'access.log');
  const conf = join(work, 'nginx.conf');
  writeFileSync(conf, `
daemon off;
master_process off;
worker_processes 1;
pid ${join(work, 'nginx.pid')};
error_log ${join(work, 'error.log')} warn;
events { worker_connections 64; }
http {
  access_log ${log} combined;
  client_body_temp_path ${join(work, 'body')};
  proxy_temp_path ${join(work, 'proxy')};
  fastcgi_temp_path ${join(work, 'fastcgi')};
  uwsgi_temp_path ${join(work, 'uwsgi')};
  scgi_temp_path ${join(work, 'scgi')};
  default_type application/octet-stream;
  keepalive_requests 10000;
  server {
    listen 127.0.0.1:${port};
    root ${root};
  }
}
`);
  writeFileSync(log, '');
  const child: ChildProcess = spawn(binary, ['-p', work, '-c', conf, '-e', join(work, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${stderr}`);
    try {
      await fetch(`${url}/`, { signal: AbortSignal.timeout(500) });
      break;
    } catch {
      if (attempt > 50) throw new Error(`nginx did not answer on ${url}: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    url,
    requests: () => readFileSync(log, 'utf8').split('\n').filter(Boolean),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A node:http server on 127.0.0.1 with a handler; `url` and `close()`. */
export async function startServer(handler: (request: IncomingMessage, response: ServerResponse) => void): Promise<{ url: string; server: Server; close: () => Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** The file under `root` a request asks for, or null (404). */
export function fileOf(root: string, request: IncomingMessage): string | null {
  const path = normalize(join(root, decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname)));
  if (!path.startsWith(root)) return null;
  try {
    return statSync(path).isFile() ? path : null;
  } catch {
    return null;
  }
}

/** Serves `bytes=a-b` of a file as nginx would (206 + Content-Range); `cut` may stop the body early. */
export function serveRange(path: string, request: IncomingMessage, response: ServerResponse, cut?: (start: number, end: number) => number | null): void {
  const size = statSync(path).size;
  const match = /^bytes=(\d+)-(\d+)?$/.exec(request.headers.range ?? '');
  if (!match) {
    response.writeHead(200, { 'content-length': size });
    createReadStream(path).pipe(response);
    return;
  }
  const start = Number(match[1]);
  const end = Math.min(size - 1, match[2] === undefined ? size - 1 : Number(match[2]));
  response.writeHead(206, { 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${size}` });
  const stopAt = cut?.(start, end) ?? null;
  if (stopAt === null) {
    createReadStream(path, { start, end }).pipe(response);
    return;
  }
  // Send the first part of the body, then drop the connection: the client sees a body cut mid-way.
  const stream = createReadStream(path, { start, end: start + stopAt - 1 });
  stream.on('data', (chunk) => response.write(chunk));
  stream.on('end', () => setTimeout(() => response.socket?.destroy(), 5));
}
