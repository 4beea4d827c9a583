/**
 * `kubectl-mirrord-agent scale-keeper`: restores a workload that a copy_target session scaled
 * down, once that session's copy is gone (src/kube/scale-keeper.ts describes the design).
 *
 * It talks to the API server as in-cluster clients do: `KUBERNETES_SERVICE_HOST`/`_PORT`, the
 * ServiceAccount token and CA at /var/run/secrets/kubernetes.io/serviceaccount
 * (https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/). The token file is read
 * for every request, since the kubelet rotates bound tokens. Plain node:https, no client library.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { KeeperEnv } from '../src/kube/scale-keeper.ts';
import { readRecord, restorePatch, SCALE_DOWN_ANNOTATION } from '../src/kube/scale-down.ts';
import type { AgentLog as Log } from './log.ts';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

interface ApiAnswer {
  status: number;
  body: any;
}

function api(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<ApiAnswer> {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = Number(process.env.KUBERNETES_SERVICE_PORT ?? 443);
  if (!host) return Promise.reject(new Error('KUBERNETES_SERVICE_HOST is not set: not running in a pod?'));
  const token = readFileSync(`${SA_DIR}/token`, 'utf8').trim();
  const ca = readFileSync(`${SA_DIR}/ca.crt`);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request({
      host, port, method, path, ca, timeout: 10_000,
      headers: { Authorization: `Bearer ${token}`, Accept: 'application/json', ...(payload ? { 'Content-Type': contentType, 'Content-Length': payload.length } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // Not JSON: keep the text for the log.
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}

function settings(env: NodeJS.ProcessEnv): { namespace: string; copyJob: string; session: string; workloadPath: string; pollMs: number } | { error: string } {
  const missing = [KeeperEnv.namespace, KeeperEnv.copyJob, KeeperEnv.session, KeeperEnv.workloadPath].filter((k) => !env[k]);
  if (missing.length) return { error: `scale-keeper needs ${missing.join(', ')}` };
  return { namespace: env[KeeperEnv.namespace]!, copyJob: env[KeeperEnv.copyJob]!, session: env[KeeperEnv.session]!, workloadPath: env[KeeperEnv.workloadPath]!, pollMs: Number(env[KeeperEnv.pollMs] ?? 2000) };
}

/** Whether the copy's session is over: its Job is gone, being deleted, or finished (its lease ran out). */
function copyOver(answer: ApiAnswer): string | undefined {
  if (answer.status === 404) return 'the copy\'s Job is gone';
  if (answer.status !== 200) return undefined;
  if (answer.body?.metadata?.deletionTimestamp) return 'the copy\'s Job is being deleted';
  const finished = (answer.body?.status?.conditions ?? []).find((c: any) => (c.type === 'Failed' || c.type === 'Complete') && c.status === 'True');
  return finished ? `the copy's Job ${finished.type === 'Failed' ? `failed (${finished.reason ?? ''})` : 'completed'}` : undefined;
}

/** Puts the recorded replica count back if the workload is still held by this session. True when done. */
async function restore(workloadPath: string, session: string, log: Log): Promise<boolean> {
  const current = await api('GET', workloadPath);
  if (current.status === 404) {
    log.info('the workload is gone; nothing to restore', { workloadPath });
    return true;
  }
  if (current.status !== 200) throw new Error(`GET ${workloadPath}: ${current.status} ${current.body?.message ?? ''}`);
  const annotations = current.body?.metadata?.annotations as Record<string, string> | undefined;
  const record = readRecord(annotations);
  if (!record || record.session !== session) {
    log.info('the workload is not held by this session; nothing to restore', { holder: record?.session });
    return true;
  }
  const patched = await api('PATCH', workloadPath, restorePatch(annotations![SCALE_DOWN_ANNOTATION], record.replicas), 'application/json-patch+json');
  if (patched.status === 200) {
    log.info('restored', { workloadPath, replicas: record.replicas });
    return true;
  }
  // 422 is a failed `test`: someone changed the record between the read and the patch; read again.
  throw new Error(`PATCH ${workloadPath}: ${patched.status} ${patched.body?.message ?? ''}`);
}

/** Runs the keeper until it has restored (or found nothing to restore). Returns the exit code. */
export async function runScaleKeeper(env: NodeJS.ProcessEnv, log: Log): Promise<number> {
  const s = settings(env);
  if ('error' in s) {
    process.stderr.write(`error: ${s.error}\n`);
    return 2;
  }
  let stopping = false;
  let wake: () => void = () => {};
  process.once('SIGTERM', () => {
    log.info('SIGTERM: restoring now');
    stopping = true;
    wake();
  });
  const jobPath = `/apis/batch/v1/namespaces/${s.namespace}/jobs/${s.copyJob}`;
  log.info('watching the copy', { copyJob: s.copyJob, workloadPath: s.workloadPath });
  for (;;) {
    let reason: string | undefined = stopping ? 'asked to stop' : undefined;
    if (!reason) {
      try {
        reason = copyOver(await api('GET', jobPath));
      } catch (err) {
        log.warn('reading the copy\'s Job failed', { error: (err as Error).message });
      }
    }
    if (reason) {
      log.info(`${reason}; restoring the workload`);
      try {
        if (await restore(s.workloadPath, s.session, log)) return 0;
      } catch (err) {
        log.warn('restore failed; retrying', { error: (err as Error).message });
      }
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, s.pollMs);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
