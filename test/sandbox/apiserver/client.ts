/** A minimal HTTPS client for the sandbox's own commands (readiness, status, metrics). */
import { request } from 'node:https';

/** Status code and body text of one answer. */
export interface SandboxResponse {
  status: number;
  body: string;
}

/** GETs `path` from `apiUrl`, trusting only `ca`; rejects on network errors or after `timeoutMs`. */
export function sandboxGet(apiUrl: string, path: string, ca: Buffer, token?: string, timeoutMs = 2000): Promise<SandboxResponse> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, apiUrl), { ca, headers: token ? { Authorization: `Bearer ${token}` } : {}, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${apiUrl}${path} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
