/**
 * The demo's four steps. Each explains itself, prints the commands it runs and the ones a user can
 * type, and checks its claim (a StepFailure names the claim and shows the evidence). Steps build
 * on each other: step 1's port-forward carries the requests of steps 3 and 4 (127.0.0.1:8080 →
 * the ip-visit-counter Service → the pod), and step 2's copy on this machine is step 3's.
 *
 * The checks tell the pod and the copy on this machine apart by their logs: ip-visit-counter logs
 * `GET <path> from <client>` per request, and each request the demo makes carries a `demo=`
 * query unique to this run, so a line in the pod's log (`kubectl logs`) says the pod handled that
 * request and a line in the copy's output says the copy did.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Background } from './background.ts';
import { commandLine, nodeForUser, NODE, portIsFree, startExec, startMirrord } from './commands.ts';
import { copyDidNotLog, copyLogged, curlJson, expect, podDidNotLog, podLogged, processPrinted, StepFailure } from './checks.ts';
import { REPO, TARGET, type ClusterTruth } from './context.ts';
import { checked, echoLine, runs, say, showConfig, tryIt } from './print.ts';

/** Ports the demo uses on this machine's loopback. */
export const PORTS = { forward: 8080, socks: 1080, copy: 18080 } as const;
const COUNTER_SCRIPT = 'test/sandbox/images/ip-visit-counter.ts';
const MIRROR_CONFIG = 'scripts/demo/mirror.json';
const STEAL_CONFIG = 'scripts/demo/steal-header.json';
/** The agent's start (an ephemeral container) and the program's listen, generously bounded. */
const EXEC_READY_MS = 180_000;

/** What the steps share as they go. */
export interface DemoState {
  truth: ClusterTruth;
  /** Unique to this run: the `demo=` query of every request the checks make. */
  run: string;
  portForward?: Background;
  /** The exec'd ip-visit-counter of steps 2 and 3 (mirror). */
  mirrorCopy?: Background;
  note(line: string): void;
}

export interface Step {
  title: string;
  run(state: DemoState): Promise<void>;
  /** What to type to see it, printed after the checks. */
  tryIt: string[];
}

function forwardUrl(path: string): string {
  return `http://127.0.0.1:${PORTS.forward}${path}`;
}

/** Shows what `proc` prints, under its name, as it prints it (the copy's request lines are the point of steps 3 and 4). */
function echoOutput(proc: Background): void {
  proc.onLine((line) => echoLine(proc.name, line));
}

/** `kubectl mirrord exec` of the demo's ip-visit-counter with `config`, waiting until it listens. */
async function startCopy(state: DemoState, name: string, config: string): Promise<Background> {
  await portIsFree(PORTS.copy).catch((err: Error) => {
    throw new StepFailure(`port ${PORTS.copy} is free on this machine (${config} has the copy listen there: listen_ports)`, `listening on it failed: ${err.message}`);
  });
  const args = ['-t', TARGET, '-f', config, '--', NODE, COUNTER_SCRIPT];
  runs(`kubectl mirrord exec ${commandLine(['-t', TARGET, '-f', config, '--', nodeForUser(), COUNTER_SCRIPT])}`);
  say('(the demo runs it with no route from this machine to the pods, as on a laptop; the agent starts in the pod first)');
  const copy = startExec(name, args, state.note);
  echoOutput(copy);
  await processPrinted(copy, /listening on :8080/, `the copy on this machine (${name}) starts and listens`, EXEC_READY_MS);
  return copy;
}

const portForward: Step = {
  title: 'port-forward -L and SOCKS5: reach the cluster from this machine',
  async run(state) {
    say('One agent in the cluster; 127.0.0.1:8080 forwards to the ip-visit-counter Service, and a SOCKS5 server on',
      '127.0.0.1:1080 reaches anything the cluster can, names resolved in the cluster.');
    const args = ['port-forward', '-L', `${PORTS.forward}:ip-visit-counter:80`, '--socks', String(PORTS.socks)];
    runs(`kubectl mirrord ${commandLine(args)}`);
    state.portForward = startMirrord('port-forward', args);
    echoOutput(state.portForward);
    await processPrinted(state.portForward, /Ctrl-C to stop/, 'the port-forward starts its agent and listens', 120_000);

    const url = forwardUrl(`/count?demo=1-${state.run}`);
    runs(`curl ${url}`);
    const counted = await curlJson([url], '127.0.0.1:8080 reaches the ip-visit-counter pod');
    expect(counted.greeting === state.truth.greeting, `the pod answered through -L, with its greeting "${state.truth.greeting}"`, counted);
    checked(1, `127.0.0.1:${PORTS.forward} reached the ip-visit-counter Service: the pod ${counted.pod} answered (greeting "${counted.greeting}", visit ${counted.count} from ${counted.ip})`);

    const socksArgs = ['--socks5-hostname', `127.0.0.1:${PORTS.socks}`, 'http://ip-info/info?ip=10.0.0.1'];
    runs(`curl ${commandLine(socksArgs)}`);
    const info = await curlJson(socksArgs, 'through SOCKS5, the short name ip-info resolves in the cluster and ip-info answers');
    expect(info.ip === '10.0.0.1' && typeof info.region === 'string', 'ip-info describes 10.0.0.1', info);
    checked(1, `through SOCKS5, the short name ip-info resolved in the cluster and ip-info answered (10.0.0.1: private ${info.private}, region ${info.region})`);
  },
  tryIt: [
    `curl http://127.0.0.1:${PORTS.forward}/count                                        # -L to the ip-visit-counter Service`,
    `curl --socks5-hostname 127.0.0.1:${PORTS.socks} 'http://ip-info/info?ip=10.0.0.1'    # SOCKS5: names resolve in the cluster`,
    `curl --socks5-hostname 127.0.0.1:${PORTS.socks} http://ip-visit-counter.default.svc.cluster.local/`,
    `chromium --proxy-server=socks5://127.0.0.1:${PORTS.socks} http://ip-visit-counter.default/   # never proxies 127.0.0.1 or localhost`,
    'kubectl get pods',
  ],
};

const execCopy: Step = {
  title: 'exec: the ip-visit-counter runs on this machine, with the pod\'s context',
  async run(state) {
    say(`kubectl mirrord exec runs ${COUNTER_SCRIPT} here with the pod's environment (GREETING, from a ConfigMap),`,
      'its files (the API key, a mounted Secret) and its DNS and network (it calls ip-info by its short name).',
      `The config maps the program's port 8080 to ${PORTS.copy} on this machine (8080 is step 1's -L), and mirrors (step 3):`);
    state.mirrorCopy = await startCopy(state, 'copy, mirror', showConfig(MIRROR_CONFIG));

    const path = `/count?demo=2-${state.run}`;
    const url = `http://127.0.0.1:${PORTS.copy}${path}`;
    runs(`curl ${url}`);
    const body = await curlJson([url], `the copy on this machine answers on 127.0.0.1:${PORTS.copy}`);
    await copyLogged(state.mirrorCopy, path, 'the copy on this machine logged the request');
    expect(body.greeting === state.truth.greeting, `the copy has the pod's GREETING "${state.truth.greeting}"`, body);
    expect(state.truth.apiKey.length > 0 && body.apiKeyLength === state.truth.apiKey.length, `the copy read the pod's API key file (${state.truth.apiKey.length} characters)`, body);
    expect(body.info && typeof body.info.region === 'string' && !body.info.error, 'the copy reached ip-info by its short name', body);
    const localKey = existsSync('/etc/ip-visit-counter/api-key') ? 'this machine has such a file too, but the copy read the pod\'s' : 'a file this machine does not have';
    checked(2, `the copy on this machine answered with the pod's GREETING "${body.greeting}"${process.env.GREETING === undefined ? ' (this machine has none)' : ''}, `
      + `the pod's API key (${body.apiKeyLength} characters, from /etc/ip-visit-counter/api-key: ${localKey}) and ip-info's answer (region ${body.info.region}), reached by its short name`);
  },
  tryIt: [
    `curl http://127.0.0.1:${PORTS.copy}/count          # the copy on this machine; its log lines appear above as [copy, mirror]`,
  ],
};

const mirroring: Step = {
  title: 'mirroring: the pod keeps answering, and the copy on this machine sees each request',
  async run(state) {
    const copy = state.mirrorCopy!;
    say('The pod\'s incoming traffic to port 8080 is copied to the program on this machine; the pod still answers,',
      'and what the copy answers is dropped. The request goes 127.0.0.1:8080 (step 1) → Service → pod.',
      'The copy sees the pod\'s client; the pod sees the agent, which hands it each connection from the pod\'s loopback.');
    const path = `/count?demo=3-${state.run}`;
    runs(`curl ${forwardUrl(path)}`);
    const body = await curlJson([forwardUrl(path)], 'the pod answers through -L while mirrored');
    expect(body.greeting === state.truth.greeting, `the reply has the pod's greeting "${state.truth.greeting}"`, body);
    const podClient = await podLogged(path, 'the pod handled the request (its log has the line)');
    const copyClient = await copyLogged(copy, path, 'the copy on this machine saw the same request (its output has the line)');
    checked(3, `the pod answered (its log: "GET ${path} from ${podClient}") and the copy on this machine saw the same request `
      + `(it logged "GET ${path} from ${copyClient}")`);
  },
  tryIt: [
    `curl http://127.0.0.1:${PORTS.forward}/count     # the pod answers; a [copy, mirror] line appears above`,
    'kubectl logs deployment/ip-visit-counter     # the pod logged it too',
  ],
};

const stealByHeader: Step = {
  title: 'a header-filtered steal: only requests with "X-User: me" reach the copy on this machine',
  async run(state) {
    if (state.mirrorCopy) {
      say('stopping the mirroring copy (Ctrl-C to it: its agent session ends, the pod\'s port is released)');
      await state.mirrorCopy.stop();
    }
    say('The same program, now stealing only the HTTP requests whose header matches; the config also gives the copy',
      'a greeting of its own, so the answer shows who answered:');
    const config = showConfig(STEAL_CONFIG);
    const override = JSON.parse(readFileSync(join(REPO, STEAL_CONFIG), 'utf8')).feature.env.override.GREETING as string;
    const copy = await startCopy(state, 'copy, steal X-User: me', config);

    const plain = `/count?demo=4-plain-${state.run}`;
    runs(`curl ${forwardUrl(plain)}`);
    const fromPod = await curlJson([forwardUrl(plain)], 'a request without the header is answered');
    expect(fromPod.greeting === state.truth.greeting, `without the header, the pod answers (greeting "${state.truth.greeting}")`, fromPod);
    await podLogged(plain, 'without the header, the pod handled the request (its log has the line)');

    const mine = `/count?demo=4-me-${state.run}`;
    runs(`curl -H 'X-User: me' ${forwardUrl(mine)}`);
    const fromCopy = await curlJson(['-H', 'X-User: me', forwardUrl(mine)], 'a request with the header is answered');
    expect(fromCopy.greeting === override, `with "X-User: me", the copy on this machine answers (greeting "${override}")`, fromCopy);
    const client = await copyLogged(copy, mine, 'with the header, the copy on this machine handled the request (its output has the line)');
    copyDidNotLog(copy, plain, 'the request without the header never reached the copy on this machine');
    await podDidNotLog(mine, 'the request with the header never reached the pod');
    checked(4, `without the header the pod answered ("${fromPod.greeting}"; in the pod's log, not the copy's); `
      + `with "X-User: me" the copy on this machine answered ("${fromCopy.greeting}", for client ${client}; in the copy's output, not the pod's log)`);
  },
  tryIt: [
    `curl http://127.0.0.1:${PORTS.forward}/count                    # the pod answers`,
    `curl -H 'X-User: me' http://127.0.0.1:${PORTS.forward}/count    # the copy on this machine answers`,
  ],
};

export const STEPS: Step[] = [portForward, execCopy, mirroring, stealByHeader];

export function newRunId(): string {
  return randomBytes(4).toString('hex');
}
