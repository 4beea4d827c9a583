/**
 * A stand-in for the node half in API-server tests: pods become Running and Ready at once with a pod
 * IP, deletions are confirmed at once, `dialPod` connects to loopback ports registered by the test,
 * logs are fixed text, and `exec` echoes the command and container it was given (`false` exits 1).
 */
import { connect } from 'node:net';
import { Readable, type Duplex } from 'node:stream';
import type { ExecOptions, KObject, SandboxNode, Store } from '../contract.ts';

/** The fake node plus the knobs tests turn. */
export interface FakeNode extends SandboxNode {
  /** Pod port → loopback port that `dialPod` connects to instead. */
  ports: Map<number, number>;
  /** Pod name prefixes whose pods finish with this phase instead of running. */
  finishWith: Map<string, 'Succeeded' | 'Failed'>;
}

function runningStatus(pod: KObject, index: number, phase: string): object {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const running = phase === 'Running';
  const state = running ? { running: { startedAt: now } } : { terminated: { exitCode: phase === 'Succeeded' ? 0 : 1, reason: phase === 'Succeeded' ? 'Completed' : 'Error', startedAt: now, finishedAt: now } };
  return {
    phase, podIP: `10.244.0.${10 + (index % 200)}`, podIPs: [{ ip: `10.244.0.${10 + (index % 200)}` }], hostIP: '10.244.0.1', startTime: now, qosClass: 'BestEffort',
    conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: type === 'Ready' || type === 'ContainersReady' ? String(running ? 'True' : 'False') : 'True', lastTransitionTime: now, lastProbeTime: null })),
    containerStatuses: (pod.spec.containers ?? []).map((c: any) => ({ name: c.name, image: c.image, imageID: '', ready: running, started: running, restartCount: 0, state })),
  };
}

/** A fake node; call `start(store)` as the API server does. */
export function createFakeNode(): FakeNode {
  let store: Store | undefined;
  let unwatch: (() => void) | undefined;
  let counter = 0;
  const node: FakeNode = {
    ports: new Map(),
    finishWith: new Map(),
    async start(s: Store) {
      store = s;
      const sync = (pod: KObject): void => {
        if (pod.metadata.deletionTimestamp) {
          setImmediate(() => store!.remove('pods', pod.metadata.namespace, pod.metadata.name));
        } else if (pod.status?.phase === 'Pending') {
          const phase = [...node.finishWith].find(([prefix]) => pod.metadata.name.startsWith(prefix))?.[1] ?? 'Running';
          setImmediate(() => store!.updateStatus('pods', pod.metadata.namespace, pod.metadata.name, runningStatus(pod, counter++, phase)));
        }
      };
      unwatch = s.watch('pods', (type, pod) => {
        if (type !== 'DELETED') sync(pod);
      });
      s.list('pods').forEach(sync);
    },
    async stop() {
      unwatch?.();
    },
    dialPod(_ns: string, name: string, port: number): Promise<Duplex> {
      const target = node.ports.get(port);
      if (target === undefined) {
        return Promise.reject(new Error(`error forwarding port ${port} to pod ${name}, uid : failed to connect to localhost:${port} inside namespace "${name}", IPv4: dial tcp4 127.0.0.1:${port}: connect: connection refused`));
      }
      return new Promise((resolve, reject) => {
        const socket = connect(target, '127.0.0.1', () => resolve(socket));
        socket.once('error', reject);
      });
    },
    exec(_ns: string, name: string, opts: ExecOptions) {
      const words = `${opts.command.join(' ')} in ${name}/${opts.container ?? '(none)'}`;
      return { stdin: null, stdout: Readable.from([`ran ${words}\n`]), stderr: Readable.from([]), exit: Promise.resolve(opts.command[0] === 'false' ? 1 : 0) };
    },
    podLogs(_ns: string, name: string, container: string | undefined) {
      return Readable.from([`log line 1 of ${name}/${container}\n`, `log line 2 of ${name}/${container}\n`]);
    },
  };
  return node;
}
