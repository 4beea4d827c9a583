/**
 * The HTTP/1.1 load the incoming-traffic benchmarks put on an app (bench/cases/reverse.ts,
 * bench/cases/incoming.ts): GET /bench over keep-alive connections, for latency (sequential
 * requests on one connection) and for requests per second (`concurrency` connections at once).
 */
import http from 'node:http';

function get(agent: http.Agent, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: '/bench', agent }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode} from ${host}:${port}`))));
    });
    req.on('error', reject);
  });
}

/** The `q` quantile (0 to 1) of ascending `sorted`: the sample at floor(q·n), the last for q = 1. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) throw new Error('quantile of no samples');
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export interface Latency {
  /** ms */
  p50: number;
  /** ms */
  p99: number;
}

/** p50 and p99 of `count` sequential requests over one keep-alive connection (after 20 warm-up requests), ms. */
export async function latency(host: string, port: number, count: number): Promise<Latency> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < 20; i++) await get(agent, host, port);
    const samples: number[] = [];
    for (let i = 0; i < count; i++) {
      const start = process.hrtime.bigint();
      await get(agent, host, port);
      samples.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    samples.sort((a, b) => a - b);
    return { p50: quantile(samples, 0.5), p99: quantile(samples, 0.99) };
  } finally {
    agent.destroy();
  }
}

/** Requests per second with `concurrency` keep-alive connections for `durationMs`. */
export async function throughput(host: string, port: number, durationMs: number, concurrency: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  try {
    const end = Date.now() + durationMs;
    let done = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        await get(agent, host, port);
        done++;
      }
    }));
    return done / (durationMs / 1000);
  } finally {
    agent.destroy();
  }
}

/**
 * How many times `path`'s added latency (its latency minus the direct one) is `baseline`'s:
 * NaN when the baseline adds nothing measurable (zero or less), where a ratio would mean nothing.
 */
export function addedLatencyRatio(path: number, baseline: number, direct: number): number {
  const baselineAdded = baseline - direct;
  return baselineAdded > 0 ? (path - direct) / baselineAdded : NaN;
}
