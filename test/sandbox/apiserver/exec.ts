/**
 * pods/exec over WebSocket (k8s.io/apimachinery/pkg/util/remotecommand and the kubelet's
 * cri/streaming/remotecommand/websocket.go): channel 0 stdin, 1 stdout, 2 stderr, 3 the final
 * Status as JSON (v4 and later), 4 terminal resize; v5.channel.k8s.io adds channel 255 with which the
 * client closes a stream (payload: the channel to close).
 */
import type { WebSocket } from 'ws';
import type { ExecOptions, SandboxNode } from '../contract.ts';
import { badRequest } from './status.ts';

/** Subprotocols served for pods/exec, newest first. */
export const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
const CLOSE_CHANNEL = 255;

/** Reads `command`, `container`, `stdin`, `tty` from the query; throws ApiError 400 without a command. */
export function parseExecOptions(query: URLSearchParams): ExecOptions {
  const command = query.getAll('command');
  if (command.length === 0) throw badRequest('you must specify at least 1 command');
  const flag = (name: string): boolean => query.get(name) === 'true' || query.get(name) === '1';
  return { container: query.get('container') ?? undefined, command, stdin: flag('stdin'), tty: flag('tty') };
}

function exitStatus(command: string[], code: number): object {
  if (code === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {}, status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

/** Runs `opts.command` in the pod through the node and relays its streams over `ws`. */
export function serveExec(ws: WebSocket, node: SandboxNode, namespace: string, pod: string, opts: ExecOptions): void {
  const send = (channel: number, data: Buffer | string): void => {
    if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(data)]));
  };
  let proc: ReturnType<NonNullable<SandboxNode['exec']>>;
  try {
    proc = node.exec!(namespace, pod, opts);
  } catch (err) {
    send(3, JSON.stringify({ metadata: {}, status: 'Failure', message: (err as Error).message, reason: 'InternalError', code: 500 }));
    ws.close(1000);
    return;
  }
  proc.stdout.on('data', (chunk: Buffer) => send(1, chunk));
  proc.stderr.on('data', (chunk: Buffer) => send(2, chunk));
  ws.on('message', (data: Buffer) => {
    if (data.length === 0) return;
    if (data[0] === 0 && proc.stdin) proc.stdin.write(data.subarray(1));
    if (data[0] === CLOSE_CHANNEL && data[1] === 0 && proc.stdin) proc.stdin.end();
  });
  ws.on('close', () => proc.stdin?.end());
  // The kubelet sends all of the output before the Status: wait for both streams to end, since a
  // process's exit can be seen before the last of its output has been read.
  const drained = (stream: NodeJS.ReadableStream) => new Promise<void>((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });
  const outputDone = Promise.all([drained(proc.stdout), drained(proc.stderr)]);
  proc.exit.then(async (code) => {
    await outputDone;
    send(3, JSON.stringify(exitStatus(opts.command, code)));
    ws.close(1000);
  }, (err: Error) => {
    send(3, JSON.stringify({ metadata: {}, status: 'Failure', message: err.message, reason: 'InternalError', code: 500 }));
    ws.close(1000);
  });
}
