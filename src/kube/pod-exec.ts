/**
 * Runs one command in a pod's container through `pods/exec` over a WebSocket and collects its
 * output: what `kubectl mirrord kill` uses to tell an agent to stop. The channel protocol
 * (k8s.io/apimachinery remotecommand, v4.channel.k8s.io): each binary message starts with its
 * channel, 1 stdout, 2 stderr, 3 the final Status as JSON, whose `details.causes` carry the exit
 * code of a failed command. No stdin, no TTY. TLS and credentials come from the kubeconfig as for
 * the agent link (transport/open-portforward.ts).
 */
import type { IncomingMessage } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import WebSocket from 'ws';
import { errorFromHttpStatus, errorFromKubeCall } from '../kube-api/api-errors.ts';
import { AgentError, KubeconfigError } from '../errors.ts';

/** Subprotocols offered, newest first; v5 only adds stream closing, which a command without stdin needs not. */
const EXEC_SUBPROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
const Channel = { stdout: 1, stderr: 2, status: 3 } as const;
/** Output kept per stream: a stop command prints one line. */
const MAX_OUTPUT = 64 * 1024;

export interface ExecTarget {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
}

export interface ExecResult {
  /** The command's exit code; -1 when the Status has none, or the stream ended without a Status (the container went away). */
  exitCode: number;
  stdout: string;
  stderr: string;
  /** The Status message of a failed run (kubelet's words), if any. */
  message?: string;
}

/** The ws:// or wss:// URL of the exec subresource, keeping any path prefix of the server. */
export function execUrl(server: string, target: ExecTarget): URL {
  const base = new URL(server.endsWith('/') ? server : `${server}/`);
  const query = new URLSearchParams({ container: target.container, stdout: 'true', stderr: 'true' });
  for (const word of target.command) query.append('command', word);
  const url = new URL(`api/v1/namespaces/${encodeURIComponent(target.namespace)}/pods/${encodeURIComponent(target.pod)}/exec?${query}`, base);
  url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:';
  return url;
}

/** The exit code a v4 Status carries: 0 for Success, the ExitCode cause for NonZeroExitCode, else -1. */
export function statusExitCode(status: { status?: string; reason?: string; details?: { causes?: Array<{ reason?: string; message?: string }> } }): number {
  if (status.status === 'Success') return 0;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  const code = Number(cause?.message);
  return Number.isInteger(code) ? code : -1;
}

/**
 * Runs the command and resolves when it ended.
 * @throws MirrordError: a refused upgrade (403 names `create pods/exec`), an unreachable API server,
 *   or AgentError `EEXEC` when it did not end within `timeoutMs`.
 */
export async function execInPod(kc: KubeConfig, target: ExecTarget, timeoutMs = 30_000): Promise<ExecResult> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeconfigError('ENOCLUSTER', 'the kubeconfig context names no cluster', { hint: 'check the context with kubectl config view --minify' });
  const requestOptions: WebSocket.ClientOptions = {};
  await kc.applyToHTTPSOptions(requestOptions);
  const action = `create pods/exec in pod "${target.pod}" (container ${target.container}) in namespace "${target.namespace}"`;
  const ws = new WebSocket(execUrl(cluster.server, target), EXEC_SUBPROTOCOLS, { ...requestOptions, perMessageDeflate: false, handshakeTimeout: 15_000 });
  const out = { stdout: '', stderr: '' };
  return await new Promise<ExecResult>((resolve, reject) => {
    let result: ExecResult | undefined;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new AgentError('EPODEXEC', `${target.command.join(' ')} in pod "${target.pod}" did not end within ${timeoutMs / 1000} s`, { hint: 'run again; see kubectl logs for the container' }));
    }, timeoutMs);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const bytes = isBinary ? data : Buffer.from(data);
      if (bytes.length === 0) return;
      const text = bytes.subarray(1).toString('utf8');
      if (bytes[0] === Channel.stdout && out.stdout.length < MAX_OUTPUT) out.stdout += text;
      else if (bytes[0] === Channel.stderr && out.stderr.length < MAX_OUTPUT) out.stderr += text;
      else if (bytes[0] === Channel.status) {
        let status: Parameters<typeof statusExitCode>[0] & { message?: string } = {};
        try {
          status = JSON.parse(text) as typeof status;
        } catch {
          status = { message: text };
        }
        result = { exitCode: statusExitCode(status), ...out, ...(status.status === 'Success' || !status.message ? {} : { message: status.message }) };
      }
    });
    ws.once('close', () => {
      clearTimeout(timer);
      resolve(result ? { ...result, ...out } : { exitCode: -1, ...out, message: 'the exec ended without an exit status' });
    });
    ws.once('error', (err) => {
      clearTimeout(timer);
      reject(errorFromKubeCall(err, action, cluster.server));
    });
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      clearTimeout(timer);
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        ws.terminate();
        reject(errorFromHttpStatus(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), action));
      });
    });
  });
}
