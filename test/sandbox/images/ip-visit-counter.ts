/**
 * Demo image `ip-visit-counter`: counts visits per client IP and asks `ip-info` about the client.
 *   GET /count  → JSON { ip, count, info, greeting, apiKeyLength } (info from http://ip-info/info,
 *                 resolved by short name through the pod's DNS search path)
 *   GET /health → ok
 *   GET /       → a small HTML page
 * The client IP is X-Forwarded-For's first address if present, else the TCP peer's. GREETING comes
 * from the environment (a ConfigMap in demo.yaml); the API key is read from API_KEY_FILE
 * (default /etc/ip-visit-counter/api-key, a Secret volume in demo.yaml).
 * Every request but /health (the readiness probe's, every 2 s) logs one line on stdout:
 * `GET /count?x=1 from 10.244.0.7` (method, path with query, client IP), so a copy run under
 * `kubectl mirrord exec` shows which requests reached it (`npm run demo` checks these lines).
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';

const IP_INFO_URL = process.env.IP_INFO_URL ?? 'http://ip-info/info';
const API_KEY_FILE = process.env.API_KEY_FILE ?? '/etc/ip-visit-counter/api-key';
const counts = new Map<string, number>();

function clientIp(req: http.IncomingMessage): string {
  const forwarded = req.headers['x-forwarded-for'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  return first || (req.socket.remoteAddress ?? 'unknown').replace(/^::ffff:/, '');
}

function apiKey(): string {
  try {
    return readFileSync(API_KEY_FILE, 'utf8').trim();
  } catch {
    return '';
  }
}

async function ipInfo(ip: string): Promise<unknown> {
  try {
    const res = await fetch(`${IP_INFO_URL}?ip=${encodeURIComponent(ip)}`, { signal: AbortSignal.timeout(3000) });
    return await res.json();
  } catch (err) {
    return { error: `ip-info unreachable: ${(err as Error).cause ?? (err as Error).message}` };
  }
}

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>ip-visit-counter</title></head>
<body><h1>ip-visit-counter</h1>
<p id="greeting">${(process.env.GREETING ?? 'hello').replace(/[<>&]/g, '')}</p>
<p>Visit <a href="/count">/count</a> to be counted.</p>
</body></html>
`;

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://ip-visit-counter');
  if (url.pathname !== '/health') console.log(`${req.method} ${req.url} from ${clientIp(req)}`);
  if (url.pathname === '/health') return res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
  if (url.pathname === '/') return res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
  if (url.pathname !== '/count') return res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /, /count or /health\n');
  const ip = clientIp(req);
  const count = (counts.get(ip) ?? 0) + 1;
  counts.set(ip, count);
  const body = { ip, count, info: await ipInfo(ip), greeting: process.env.GREETING ?? null, apiKeyLength: apiKey().length, pod: process.env.HOSTNAME };
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body) + '\n');
});

const port = Number(process.env.PORT ?? 8080);
server.listen(port, () => console.log(`ip-visit-counter listening on :${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
