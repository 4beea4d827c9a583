/**
 * `kubectl mirrord exec` incoming traffic end to end on the sandbox: the program's own listening
 * sockets (python3 -m http.server, a python3 socket server, the demo's ip-visit-counter) receive
 * the target pod's traffic, mirrored or stolen, through the real layer, proxy and agent.
 *
 * Requests come from inside another pod's network namespace (ip-info's), so the client address
 * the local program must see is that pod's IP: python3 -m http.server logs the address accept()
 * wrote; the socket server prints accept's address and getpeername(); ip-visit-counter counts by
 * the peer Node reads with getpeername.
 *
 * Needs root on Linux, make and a C compiler (the layer is built first), and the sandbox lock.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startSandbox, type Sandbox } from '../sandbox/harness.ts';
import { BIN, REPO, kubectl, kubectlJson, podNat, waitUntil } from './cli-process.ts';
import { spawnBlocked } from '../support/exec-blocked.ts';
import { buildLayer } from '../support/layer-build.ts';

const TARGET = 'deployment/ip-visit-counter';
/** The demo container's port. */
const POD_PORT = 8080;
const NODE = join(REPO, 'node_modules', '.bin', 'node');
const run = promisify(execFile);
const REMOTE_GREETING = 'Hello from the sandbox cluster';

let sandbox: Sandbox;
let target: { name: string; uid: string; ip: string };
let client: { uid: string; ip: string };
let scratch: string;

async function runningPod(app: string): Promise<{ name: string; uid: string; ip: string }> {
  const pods = (await kubectlJson(sandbox.kubeconfigPath, ['get', 'pods', '-l', `app=${app}`])).items.filter((p: any) => p.status.phase === 'Running' && !p.metadata.deletionTimestamp);
  assert.equal(pods.length, 1, `one ${app} pod`);
  return { name: pods[0].metadata.name, uid: pods[0].metadata.uid, ip: pods[0].status.podIP };
}

before(async () => {
  buildLayer();
  sandbox = await startSandbox();
  await kubectl(sandbox.kubeconfigPath, ['apply', '-f', join(REPO, 'test/sandbox/demo.yaml')]);
  for (const d of ['ip-visit-counter', 'ip-info']) {
    await kubectl(sandbox.kubeconfigPath, ['wait', '--for=condition=Available', `deployment/${d}`, '--timeout=120s']);
  }
  target = await runningPod('ip-visit-counter');
  client = await runningPod('ip-info');
  scratch = mkdtempSync(join(tmpdir(), 'exec-incoming-'));
});

after(async () => {
  await sandbox?.stop();
});

/** curl from inside the ip-info pod's network namespace, as a process of that pod would. */
async function fromClientPod(path: string, headers: string[] = []): Promise<string> {
  const args = ['netns', 'exec', `kmsb-${client.uid}`, 'curl', '-sS', '--max-time', '15', ...headers.flatMap((h) => ['-H', h]), `http://${target.ip}:${POD_PORT}${path}`];
  try {
    return (await run('ip', args)).stdout;
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return `curl exit ${e.code}: ${e.stderr}`;
  }
}

/** The remote ip-visit-counter answers /count with JSON and its ConfigMap's greeting (local copies here override it). */
function isRemote(body: string): boolean {
  try {
    return JSON.parse(body).greeting === REMOTE_GREETING;
  } catch {
    return false;
  }
}

interface Running {
  child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp, what: string, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends `signal` and waits for the exit (of the program: exec replaced itself with it). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** The program's exit code, once it exits by itself. */
  exited: Promise<number | null>;
}

function startExec(flags: string[], argv: string[]): Running {
  return spawnExecOn(TARGET, flags, argv);
}

function spawnExecOn(targetName: string, flags: string[], argv: string[]): Running {
  const child = spawnBlocked(['kubectl', 'mirrord', 'exec', '-t', targetName, ...flags, '--', ...argv], {
    env: { ...process.env, PATH: `${BIN}:${process.env.PATH}`, KUBECONFIG: sandbox.kubeconfigPath, NO_COLOR: '1', PYTHONUNBUFFERED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { output += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    output: () => output,
    async waitFor(pattern, what, timeoutMs = 120_000) {
      try {
        await waitUntil(async () => pattern.test(output), what, timeoutMs);
      } catch (err) {
        throw new Error(`${(err as Error).message}; output:\n${output}`);
      }
      return pattern.exec(output) as RegExpMatchArray;
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return await exited;
    },
  };
}

/** After the program ended: the agent's redirect is gone and the pod answers its own traffic. */
async function assertPodAnswersAgain(what: string): Promise<void> {
  await waitUntil(async () => !/KMRD/.test(await podNat(target.uid, 'both')), `${what}: no KMRD rule is left in the pod`, 60_000);
  const body = await fromClientPod('/count');
  assert.ok(isRemote(body), `${what}: the pod answers again: ${body}`);
}

/** accept's address and getpeername(), printed per connection; answers `local`. */
function socketServer(): string {
  const file = join(scratch, 'peer-server.py');
  writeFileSync(file, [
    'import socket, sys',
    'host, port = sys.argv[1], int(sys.argv[2])',
    's = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)',
    's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
    's.bind((host, port))',
    's.listen(16)',
    'print("listening", s.getsockname()[1], flush=True)',
    'while True:',
    '    c, a = s.accept()',
    '    print("accepted", a[0], "peer", c.getpeername()[0], flush=True)',
    '    c.recv(65536)',
    '    c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 5\\r\\nConnection: close\\r\\n\\r\\nlocal")',
    '    c.close()',
  ].join('\n'));
  return file;
}

test('steal: python3 -m http.server answers the pod\'s traffic and logs the real client; exit restores the pod', async () => {
  const app = startExec(['--steal'], ['python3', '-m', 'http.server', String(POD_PORT)]);
  try {
    await app.waitFor(/Serving HTTP on/, 'http.server listens');
    const body = await fromClientPod('/');
    assert.match(body, /Directory listing for \//, `the local http.server answered: ${body}\n${app.output()}`);
    assert.match(await podNat(target.uid), /KMRD/, 'the agent redirects the port while the program listens');
    // http.server logs the address accept() wrote: the client pod's, v4-mapped on its `::` socket.
    await app.waitFor(new RegExp(`^(::ffff:)?${client.ip.replace(/\./g, '\\.')} - - .*"GET / HTTP/1\\.1" 200`, 'm'), 'the log line names the client pod');
  } finally {
    await app.stop();
  }
  await assertPodAnswersAgain('after SIGTERM');
});

test('accept and getpeername report the client pod, on an AF_INET socket and on a `::` socket', async () => {
  const server = socketServer();
  for (const host of ['0.0.0.0', '::']) {
    const app = startExec(['--steal'], ['python3', server, host, String(POD_PORT)]);
    try {
      await app.waitFor(/listening 8080/, `${host}: the server listens and getsockname says the asked port`);
      assert.equal(await fromClientPod('/'), 'local', app.output());
      const prefix = host === '::' ? '::ffff:' : '';
      const [, accepted, peer] = await app.waitFor(/accepted (\S+) peer (\S+)/, `${host}: a connection`);
      assert.equal(accepted, `${prefix}${client.ip}`, `${host}: accept's address`);
      assert.equal(peer, `${prefix}${client.ip}`, `${host}: getpeername`);
    } finally {
      await app.stop();
    }
    await assertPodAnswersAgain(host);
  }
});

test('mirror (the default): the pod keeps answering, and the local program sees a copy from the real client', async () => {
  const server = socketServer();
  const app = startExec([], ['python3', server, '0.0.0.0', String(POD_PORT)]);
  try {
    await app.waitFor(/listening 8080/, 'the server listens');
    const body = await fromClientPod('/count');
    assert.ok(isRemote(body), `the pod answered: ${body}`);
    const [, accepted, peer] = await app.waitFor(/accepted (\S+) peer (\S+)/, 'the mirrored copy arrives');
    assert.deepEqual([accepted, peer], [client.ip, client.ip]);
  } finally {
    await app.stop();
  }
  await assertPodAnswersAgain('after mirror');
});

test('header-filtered steal with ip-visit-counter run locally: only requests with the header reach it, counted by the client pod\'s IP', async () => {
  const config = join(scratch, 'filter.json');
  writeFileSync(config, JSON.stringify({ feature: {
    env: { override: { GREETING: 'the local copy' } },
    network: { incoming: { mode: 'steal', http_filter: { header_filter: '^x-user: me$' } } },
  } }));
  const app = startExec(['-f', config], [NODE, join(REPO, 'test/sandbox/images/ip-visit-counter.ts')]);
  try {
    await app.waitFor(/listening on :8080/, 'the demo listens');
    const mine = JSON.parse(await fromClientPod('/count', ['X-User: me']));
    assert.equal(mine.greeting, 'the local copy', `answered by the local copy: ${JSON.stringify(mine)}`);
    assert.equal(mine.ip, client.ip, `the local copy counts the client pod: ${JSON.stringify(mine)}`);
    const others = await fromClientPod('/count', ['X-User: someone-else']);
    assert.ok(isRemote(others), `another user's request stays remote: ${others}`);
  } finally {
    await app.stop();
  }
  await assertPodAnswersAgain('after the filtered steal');
});

test('port_mapping: the program listens on 9333 and gets the pod\'s port 8080', async () => {
  const config = join(scratch, 'mapping.json');
  writeFileSync(config, JSON.stringify({ feature: { network: { incoming: { mode: 'steal', port_mapping: [[9333, POD_PORT]] } } } }));
  const app = startExec(['-f', config], ['python3', socketServer(), '0.0.0.0', '9333']);
  try {
    await app.waitFor(/listening 9333/, 'the server listens on 9333');
    assert.equal(await fromClientPod('/'), 'local', app.output());
    assert.match(await podNat(target.uid), new RegExp(`--dport ${POD_PORT} .*REDIRECT`));
  } finally {
    await app.stop();
  }
  await assertPodAnswersAgain('after port_mapping');
});

test('kill -9 of the program while it steals: the redirect goes and the pod answers its own traffic again', async () => {
  const app = startExec(['--steal'], ['python3', socketServer(), '0.0.0.0', String(POD_PORT)]);
  try {
    await app.waitFor(/listening 8080/, 'the server listens');
    assert.equal(await fromClientPod('/'), 'local', app.output());
  } finally {
    await app.stop('SIGKILL');
  }
  // Bound (docs/exec.md): the proxy's read of the dead process's link, one agent round trip; 60 s of margin.
  await assertPodAnswersAgain('after kill -9');
});

/** The agent's REDIRECT rules in a pod's nat table, by destination port. */
function redirectedPorts(nat: string): number[] {
  return [...nat.matchAll(/^-A KMRD\S* .*--dport (\d+) .*-j REDIRECT/gm)].map((m) => Number(m[1])).sort((a, b) => a - b);
}

test('200 listen/close loops, then 50 ports at once: the redirects follow the program, and none is left', async () => {
  await kubectl(sandbox.kubeconfigPath, ['apply', '-f', join(REPO, 'test/e2e/fixtures/exec-many-ports.yaml')]);
  await kubectl(sandbox.kubeconfigPath, ['wait', '--for=condition=Available', 'deployment/many-ports', '--timeout=120s']);
  const many = await runningPod('many-ports');
  const flags = { close: join(scratch, 'close-now'), exit: join(scratch, 'exit-now') };
  const script = join(scratch, 'many.py');
  writeFileSync(script, [
    'import os, selectors, socket, sys, time',
    'def listener(port):',
    '    s = socket.socket()',
    '    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
    '    s.bind(("0.0.0.0", port))',
    '    s.listen(64)',
    '    return s',
    'for i in range(200):',
    '    listener(9000).close()',
    'print("looped", flush=True)',
    'sel = selectors.DefaultSelector()',
    'socks = [listener(p) for p in range(9000, 9050)]',
    'for s in socks: sel.register(s, selectors.EVENT_READ)',
    'print("ready", flush=True)',
    'while not os.path.exists(sys.argv[1]):',
    '    for key, _ in sel.select(0.2):',
    '        c, _ = key.fileobj.accept()',
    '        body = b"local %d" % key.fileobj.getsockname()[1]',
    '        c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\nConnection: close\\r\\n\\r\\n%s" % (len(body), body))',
    '        c.close()',
    'for s in socks: s.close()',
    'print("closed", flush=True)',
    'while not os.path.exists(sys.argv[2]): time.sleep(0.2)',
  ].join('\n'));
  const get = async (port: number) => {
    try {
      return (await run('ip', ['netns', 'exec', `kmsb-${client.uid}`, 'curl', '-sS', '--max-time', '15', `http://${many.ip}:${port}/`])).stdout;
    } catch (err) {
      return `curl exit ${(err as { code: number }).code}`;
    }
  };
  const app = spawnExecOn('deployment/many-ports', ['--steal'], ['python3', script, flags.close, flags.exit]);
  try {
    await app.waitFor(/^ready$/m, 'the program listens on 50 ports', 300_000);
    assert.deepEqual(redirectedPorts(await podNat(many.uid)), Array.from({ length: 50 }, (_, i) => 9000 + i), 'one redirect per listening port, none left from the loops');
    assert.equal(await get(9000), 'local 9000');
    assert.equal(await get(9049), 'local 9049');
    writeFileSync(flags.close, '');
    await app.waitFor(/^closed$/m, 'the program closed its listeners');
    await waitUntil(async () => redirectedPorts(await podNat(many.uid)).length === 0, 'every redirect is removed while the program still runs', 120_000);
    assert.equal(await get(9000), 'remote 9000');
    writeFileSync(flags.exit, '');
    assert.equal(await app.exited, 0, app.output());
  } finally {
    await app.stop('SIGKILL');
    await kubectl(sandbox.kubeconfigPath, ['delete', '-f', join(REPO, 'test/e2e/fixtures/exec-many-ports.yaml'), '--wait=false']);
  }
  assert.doesNotMatch(await podNat(many.uid, 'both'), /KMRD/, 'the agent\'s chain is gone');
});

test('a fork child that closes the listener it inherited leaves the parent\'s steal in place', async () => {
  const script = join(scratch, 'fork.py');
  writeFileSync(script, [
    'import os, socket',
    's = socket.socket()',
    's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
    's.bind(("0.0.0.0", 8080))',
    's.listen(16)',
    'pid = os.fork()',
    'if pid == 0:',
    '    s.close()',
    '    os._exit(0)',
    'os.waitpid(pid, 0)',
    'print("child gone", flush=True)',
    'while True:',
    '    c, a = s.accept()',
    '    c.recv(65536)',
    '    c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 6\\r\\nConnection: close\\r\\n\\r\\nparent")',
    '    c.close()',
  ].join('\n'));
  const app = startExec(['--steal'], ['python3', script]);
  try {
    await app.waitFor(/child gone/, 'the child closed its copy and exited');
    // Past the proxy's handling of the child's INCOMING_CLOSE and disconnect.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(await fromClientPod('/'), 'parent', app.output());
    assert.match(await podNat(target.uid), /KMRD/);
  } finally {
    await app.stop();
  }
  await assertPodAnswersAgain('after the fork test');
});

test('a filtered steal of a port outside http_filter.ports says so, naming the setting, before traffic moves', async () => {
  const config = join(scratch, 'filter-ports.json');
  writeFileSync(config, JSON.stringify({ feature: { network: { incoming: { mode: 'steal', http_filter: { header_filter: '^x-user: me$', ports: [80] } } } } }));
  const app = startExec(['-f', config], ['python3', socketServer(), '0.0.0.0', String(POD_PORT)]);
  try {
    await app.waitFor(/listening 8080/, 'the server listens');
    assert.match(app.output(), /kubectl-mirrord: port 8080 is not in feature\.network\.incoming\.http_filter\.ports \(80\): every request to it is stolen/);
    assert.equal(await fromClientPod('/'), 'local', 'stolen whole, without the header');
  } finally {
    await app.stop();
  }
  await assertPodAnswersAgain('after the unfiltered port');
});

test('without a target, a listening program stays local, and one line says so', async () => {
  const child = spawnBlocked(['kubectl', 'mirrord', 'exec', '--', 'python3', '-c',
    'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); t = socket.socket(); t.bind(("127.0.0.1", 18089)); t.listen(); print("bound", t.getsockname()[1], flush=True)'], {
    env: { ...process.env, PATH: `${BIN}:${process.env.PATH}`, KUBECONFIG: sandbox.kubeconfigPath, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { output += d.toString(); });
  const code = await new Promise((resolve) => child.once('close', resolve));
  assert.equal(code, 0, output);
  assert.match(output, /^bound 18089$/m);
  const lines = output.split('\n').filter((l) => /listens on port \d+, which stays on this machine: incoming traffic needs a target/.test(l));
  assert.deepEqual(lines, ['kubectl-mirrord: the program listens on port 18089, which stays on this machine: incoming traffic needs a target (--target)'], 'one line, for the nonzero port only');
});

test('Pod Security "baseline" refuses the NET_ADMIN that mirroring needs: by default exec goes on without incoming and says so; --steal is an error', async () => {
  const ns = 'exec-baseline';
  const manifest = join(scratch, 'baseline.yaml');
  writeFileSync(manifest, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'pod-security.kubernetes.io/enforce': 'baseline' } } },
    {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'plain', namespace: ns },
      spec: {
        replicas: 1, selector: { matchLabels: { app: 'plain' } },
        template: {
          metadata: { labels: { app: 'plain' } },
          spec: { containers: [{ name: 'app', image: 'debian:bookworm', command: ['sleep', 'infinity'], env: [{ name: 'PLAIN_GREETING', value: 'from the baseline pod' }] }] },
        },
      },
    },
  ].map((item) => `---\n${JSON.stringify(item)}\n`).join(''));
  await kubectl(sandbox.kubeconfigPath, ['apply', '-f', manifest]);
  try {
    await kubectl(sandbox.kubeconfigPath, ['wait', '-n', ns, '--for=condition=Available', 'deployment/plain', '--timeout=120s']);
    const env = { ...process.env, PATH: `${BIN}:${process.env.PATH}`, KUBECONFIG: sandbox.kubeconfigPath, NO_COLOR: '1' };
    const runIn = (flags: string[], argv: string[]) => new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawnBlocked(['kubectl', 'mirrord', 'exec', '-n', ns, '-t', 'deployment/plain', ...flags, '--', ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout?.on('data', (d: Buffer) => { output += d.toString(); });
      child.stderr?.on('data', (d: Buffer) => { output += d.toString(); });
      child.once('close', (code) => resolve({ code, output }));
    });
    // Mirror by default: the first agent (NET_ADMIN) is refused, the second (the target's identity) runs.
    const byDefault = await runIn([], ['python3', '-c', 'import os, socket; print(os.environ["PLAIN_GREETING"], flush=True); s = socket.socket(); s.bind(("0.0.0.0", 18090)); s.listen(); print("listening", flush=True)']);
    assert.equal(byDefault.code, 0, byDefault.output);
    assert.match(byDefault.output, /^from the baseline pod$/m);
    assert.match(byDefault.output, /^listening$/m);
    assert.match(byDefault.output, /kubectl-mirrord: incoming traffic stays on this machine: namespace "exec-baseline" enforces Pod Security "baseline"/);
    assert.match(byDefault.output, /kubectl-mirrord: the program listens on port 18090, which stays on this machine: the cluster's Pod Security level refused the agent that incoming traffic needs/);
    // Asked for: the refusal is the error, with what would be accepted.
    const stolen = await runIn(['--steal'], ['printenv', 'PLAIN_GREETING']);
    assert.equal(stolen.code, 4, stolen.output);
    assert.match(stolen.output, /enforces Pod Security "baseline", which refused the agent container/);
    assert.match(stolen.output, /feature\.network\.incoming: "off"/);
    assert.doesNotMatch(stolen.output, /from the baseline pod/);
    // Off: no attempt, no warning.
    const config = join(scratch, 'incoming-off.json');
    writeFileSync(config, JSON.stringify({ feature: { network: { incoming: 'off' } } }));
    const off = await runIn(['-f', config], ['printenv', 'PLAIN_GREETING']);
    assert.equal(off.code, 0, off.output);
    assert.doesNotMatch(off.output, /incoming traffic stays on this machine/);
  } finally {
    await kubectl(sandbox.kubeconfigPath, ['delete', 'namespace', ns, '--wait=false']).catch(() => '');
  }
});

test('a target workload with 2 replicas: one line names the count and the pod whose traffic comes (about 1/2)', async () => {
  const manifest = join(scratch, 'two-replicas.yaml');
  writeFileSync(manifest, JSON.stringify({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'two-replicas' },
    spec: {
      replicas: 2, selector: { matchLabels: { app: 'two-replicas' } },
      template: { metadata: { labels: { app: 'two-replicas' } }, spec: { containers: [{ name: 'app', image: 'debian:bookworm', command: ['sleep', 'infinity'] }] } },
    },
  }));
  await kubectl(sandbox.kubeconfigPath, ['apply', '-f', manifest]);
  try {
    await kubectl(sandbox.kubeconfigPath, ['wait', '--for=condition=Available', 'deployment/two-replicas', '--timeout=120s']);
    // 'close', not 'exit': the output is all read once the pipes close.
    const closed = (r: Running) => new Promise<number | null>((resolve) => r.child.once('close', (code) => resolve(code)));
    const app = spawnExecOn('deployment/two-replicas', [], ['true']);
    assert.equal(await closed(app), 0, app.output());
    const lines = app.output().split('\n').filter((l) => /replicas: only the traffic of pod/.test(l));
    assert.equal(lines.length, 1, app.output());
    assert.match(lines[0], /^kubectl-mirrord: deployment\/two-replicas has 2 replicas: only the traffic of pod two-replicas-\S+ comes to the program \(about 1\/2 of the requests\)$/);
    const off = join(scratch, 'two-replicas-off.json');
    writeFileSync(off, JSON.stringify({ feature: { network: { incoming: 'off' } } }));
    const quiet = spawnExecOn('deployment/two-replicas', ['-f', off], ['true']);
    assert.equal(await closed(quiet), 0, quiet.output());
    assert.doesNotMatch(quiet.output(), /replicas: only the traffic/, 'no incoming, no share to warn about');
  } finally {
    await kubectl(sandbox.kubeconfigPath, ['delete', 'deployment', 'two-replicas', '--wait=false']).catch(() => '');
  }
});
