/**
 * Demo image `ip-info`: a tiny HTTP service that describes an IP address.
 *   GET /info?ip=X → JSON { ip, version, private, loopback, region }  (region is made up, stable per address)
 *   GET /health    → ok
 * Listens on PORT (default 8080) on all addresses.
 */
import http from 'node:http';
import net from 'node:net';
import { createHash } from 'node:crypto';

const REGIONS = ['eu-west', 'eu-north', 'us-east', 'us-west', 'ap-south', 'ap-east', 'sa-east', 'af-south'];

/** RFC 1918, RFC 6598 (CGNAT) and RFC 4193 (ULA) ranges count as private. */
export function isPrivate(ip: string): boolean {
  if (net.isIPv4(ip)) {
    const [a, b] = ip.split('.').map(Number);
    return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
  }
  return /^f[cd]/i.test(ip);
}

export function describe(ip: string): Record<string, unknown> {
  const version = net.isIP(ip);
  if (version === 0) return { ip, error: `not an IP address: "${ip}"` };
  const loopback = version === 4 ? ip.startsWith('127.') : ip === '::1';
  const digest = createHash('sha256').update(ip).digest();
  return { ip, version, private: isPrivate(ip), loopback, region: loopback ? 'local' : REGIONS[digest[0] % REGIONS.length] };
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://ip-info');
  if (url.pathname === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
  } else if (url.pathname === '/info') {
    const info = describe(url.searchParams.get('ip') ?? '');
    res.writeHead('error' in info ? 400 : 200, { 'content-type': 'application/json' }).end(JSON.stringify(info) + '\n');
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /info?ip=10.0.0.1 or /health\n');
  }
});

const port = Number(process.env.PORT ?? 8080);
server.listen(port, () => console.log(`ip-info listening on :${port}`));
// PID 1 in its container: without a handler SIGTERM would be ignored until the kubelet's SIGKILL.
process.on('SIGTERM', () => server.close(() => process.exit(0)));
