/**
 * Readiness probes as a kubelet runs them (pkg/probe): tcpSocket and httpGet dial the pod IP from
 * the node; httpGet succeeds on 200–399; exec succeeds on exit code 0. Each attempt times out after
 * `timeoutSeconds` (default 1).
 */
import net from 'node:net';
import http from 'node:http';
import type { Container } from './container.ts';
import { execInContainer } from './container-exec.ts';

export interface ProbeTarget { podIP: string }

/** A named port (`http`) resolves through the container's ports, as in the pod spec. */
function portOf(port: number | string, container: Container): number {
  if (typeof port === 'number') return port;
  const named = (container.spec.ports ?? []).find((p: any) => p.name === port);
  return named ? named.containerPort : Number(port);
}

function tcp(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, timeout: timeoutMs }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
    s.on('timeout', () => { s.destroy(); resolve(false); });
  });
}

function httpGet(probe: any, host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { 'User-Agent': 'kube-probe/1.32', Accept: '*/*' };
    for (const h of probe.httpHeaders ?? []) headers[h.name] = h.value;
    const req = http.get({ host, port, path: probe.path ?? '/', headers, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode! >= 200 && res.statusCode! < 400);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => { req.destroy(); resolve(false); });
  });
}

function exec(command: string[], container: Container, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let child;
    try {
      child = execInContainer(container, command, 'ignore');
    } catch {
      return resolve(false);
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => { clearTimeout(timer); resolve(code === 0); });
    child.on('error', () => resolve(false));
  });
}

/** Runs one probe attempt; never rejects. */
export async function runProbe(probe: any, target: ProbeTarget, container: Container): Promise<boolean> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  if (probe.tcpSocket) return tcp(probe.tcpSocket.host ?? target.podIP, portOf(probe.tcpSocket.port, container), timeoutMs);
  if (probe.httpGet) return httpGet(probe.httpGet, probe.httpGet.host ?? target.podIP, portOf(probe.httpGet.port, container), timeoutMs);
  if (probe.exec) return exec(probe.exec.command ?? [], container, timeoutMs);
  return true;
}

/**
 * Runs `attempt` every `periodSeconds` after `initialDelaySeconds`, and reports `onChange(healthy)`
 * when `successThreshold` successes in a row make it healthy or `failureThreshold` failures in a
 * row make it unhealthy (defaults 1 and 3). With `onGiveUp`, `failureThreshold` failures before any
 * success call it and stop the loop (startup probes). Returns the function that stops it.
 *
 * Until the first success it probes every 250 ms (`eager`, for readiness): the sandbox's pods start
 * in well under a period, and waiting a full default 10 s period would only slow every test down.
 */
export function probeLoop(
  probe: any, initiallyHealthy: boolean, eager: boolean, attempt: () => Promise<boolean>, onChange: (healthy: boolean) => void,
  onGiveUp?: () => void,
): () => void {
  const period = (probe.periodSeconds ?? 10) * 1000;
  let healthy = initiallyHealthy;
  let everSucceeded = false;
  let successes = 0;
  let failures = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    const ok = await attempt();
    if (stopped) return;
    everSucceeded ||= ok;
    successes = ok ? successes + 1 : 0;
    failures = ok ? 0 : failures + 1;
    // Never healthy and out of attempts: only a startup probe gives up (and has onGiveUp).
    if (onGiveUp && !healthy && failures >= (probe.failureThreshold ?? 3)) return onGiveUp();
    const next = ok ? healthy || successes >= (probe.successThreshold ?? 1) : healthy && failures < (probe.failureThreshold ?? 3);
    if (next !== healthy) {
      healthy = next;
      onChange(healthy);
    }
    timer = setTimeout(tick, eager && !everSucceeded ? Math.min(period, 250) : period);
  };
  timer = setTimeout(tick, (probe.initialDelaySeconds ?? 0) * 1000);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
