/**
 * Faults of the targeted agent during `-R --steal`: every process of the agent's container killed
 * at once (what containerd does after the agent's main process dies), and the agent stopped for
 * 40 s. Each returns what it saw; test/e2e/faults.test.ts asserts on it, test/faults/run.ts prints it.
 */
import net from 'node:net';
import { once } from 'node:events';
import { startCli, type CliProcess } from '../e2e/cli-process.ts';
import {
  POD_PORT, TARGET, agentMainProcess, describeRules, liveSetMembers, processState, agentProcesses, demoPod, isRemote, ourJobs, ourRules, serviceBody, timeUntil, userApp,
  type FaultEnv, type FaultObservation,
} from './fault-env.ts';

async function startSteal(env: FaultEnv, appPort: number, extra: string[] = []): Promise<CliProcess> {
  const cli = startCli(['port-forward', '-t', TARGET, '--agent-idle-timeout', '3s', '-R', `${POD_PORT}:${appPort}`, '--steal', ...extra], env.kubeconfig);
  await cli.waitFor(/Ctrl-C to stop/, 90_000);
  return cli;
}

/** A keep-alive HTTP connection to the Service that has had one answer: the connection open at the fault. */
async function openConnection(env: FaultEnv): Promise<{ closed: Promise<string> }> {
  const url = new URL(env.serviceUrl);
  const socket = net.connect(Number(url.port || 80), url.hostname);
  await once(socket, 'connect');
  socket.write(`GET /count HTTP/1.1\r\nHost: ${url.hostname}\r\n\r\n`);
  await once(socket, 'data');
  const closed = new Promise<string>((resolve) => {
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(`reset (${err.code})`));
    socket.on('close', () => resolve('closed'));
  });
  return { closed };
}

/**
 * SIGKILL to the agent and its guard at once, during a steal. The CLI runs with
 * --exit-on-disconnect so that it does not steal again at once: the Service must then answer from
 * the pod's own app by itself (the redirect expired). A second session's agent then removes the
 * inert rules (leftover cleanup), and its Ctrl-C leaves nothing of ours.
 */
export async function killAllDuringSteal(env: FaultEnv): Promise<FaultObservation & { killed: number; remoteAnswered: boolean; rulesAfterCleanup: string[]; inertRules: string[] }> {
  const app = await userApp();
  const pod = await demoPod(env);
  const notes: string[] = [];
  const cli = await startSteal(env, app.port, ['--exit-on-disconnect']);
  try {
    const before = await serviceBody(env);
    notes.push(`before: the Service answered ${JSON.stringify(before)}`);
    const open = await openConnection(env);
    const pids = agentProcesses(pod.uid);
    const killedAt = Date.now();
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    const [recoveryMs, expiredMs] = await Promise.all([
      timeUntil(async () => isRemote(await serviceBody(env, '/count', 1)), 120_000, killedAt),
      timeUntil(async () => (await liveSetMembers(pod.uid)).length === 0, 120_000, killedAt),
    ]);
    notes.push(`the set element expired ${expiredMs === undefined ? 'never' : `${expiredMs} ms`} after the kill; the Service answered from the pod ${recoveryMs ?? 'never'} ms after`);
    const cliExit = await Promise.race([cli.exited, new Promise((r) => setTimeout(() => r('still running'), 30_000))]);
    notes.push(`the CLI exited with ${cliExit} (--exit-on-disconnect)`);
    notes.push(`the connection open at the kill: ${await Promise.race([open.closed, new Promise<string>((r) => setTimeout(() => r('still open after 10 s'), 10_000))])}`);
    const inert = await ourRules(pod.uid);
    notes.push(`left in the pod until the next agent cleans up: ${describeRules(inert)}`);

    const second = await startSteal(env, app.port);
    const stolenAgain = await serviceBody(env);
    notes.push(`a second session steals again: ${JSON.stringify(stolenAgain)}`);
    const code = await second.interrupt();
    const rulesAfterCleanup = await timeUntil(async () => (await ourRules(pod.uid)).length === 0, 20_000) === undefined ? await ourRules(pod.uid) : [];
    notes.push(`second CLI exit ${code}`);
    return {
      fault: 'agent + guard SIGKILLed at once during a steal',
      portsBound: 'n/a (-R binds no local port; the CLI exited on purpose)',
      recoveryMs, recovery: 'the target answers its own traffic (the redirect expired)',
      rulesLeft: rulesAfterCleanup, rulesAfterCleanup, inertRules: inert,
      jobsLeft: await ourJobs(env),
      dataLoss: 'the stolen connection open at the kill is cut (its listener died); no surviving connection',
      notes, killed: pids.length, remoteAnswered: recoveryMs !== undefined,
    };
  } finally {
    cli.child.kill('SIGKILL');
    await app.close();
  }
}

/**
 * SIGSTOP to the agent's main process for 40 s during a steal, then SIGCONT: the steal lapses
 * while it is stopped (the target answers), and comes back after.
 */
export async function stopAgentDuringSteal(env: FaultEnv, stoppedMs = 40_000): Promise<FaultObservation & { lapsedMs: number | undefined; resumedMs: number | undefined }> {
  const app = await userApp();
  const pod = await demoPod(env);
  const notes: string[] = [];
  const cli = await startSteal(env, app.port);
  try {
    const pid = agentMainProcess(pod.uid);
    if (!pid) throw new Error(`no agent process in pod ${pod.name}`);
    const stoppedAt = Date.now();
    process.kill(pid, 'SIGSTOP');
    await new Promise((r) => setTimeout(r, 50));
    notes.push(`stopped the agent, pid ${pid}: state ${processState(pid)} (of ${agentProcesses(pod.uid).length} agent processes in the pod)`);
    let lapsedMs: number | undefined;
    try {
      // A stopped agent's listener still completes handshakes (the kernel does), so each probe waits its timeout: keep it short.
      const [lapse, expired] = await Promise.all([
        timeUntil(async () => isRemote(await serviceBody(env, '/count', 0.5)), stoppedMs, stoppedAt),
        timeUntil(async () => (await liveSetMembers(pod.uid)).length === 0, stoppedMs, stoppedAt),
      ]);
      lapsedMs = lapse;
      notes.push(`the set element expired ${expired === undefined ? 'never' : `${expired} ms`} into the stop`);
      await new Promise((r) => setTimeout(r, Math.max(0, stoppedAt + stoppedMs - Date.now())));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const contAt = Date.now();
    const resumedMs = await timeUntil(async () => (await serviceBody(env)).startsWith('local '), 120_000, contAt);
    notes.push(`steal lapsed ${lapsedMs === undefined ? 'never' : `after ${lapsedMs} ms`} of the stop; came back ${resumedMs === undefined ? 'never' : `${resumedMs} ms after SIGCONT`}`);
    const lost = (cli.output().match(/agent connection lost/g) ?? []).length;
    notes.push(`CLI: "agent connection lost" ${lost}x, "reconnected" ${(cli.output().match(/reconnected to the agent/g) ?? []).length}x`);
    const code = await cli.interrupt();
    const left = await timeUntil(async () => (await ourRules(pod.uid)).length === 0, 30_000) === undefined ? await ourRules(pod.uid) : [];
    return {
      fault: `agent SIGSTOPped for ${Math.round(stoppedMs / 1000)} s during a steal`,
      portsBound: 'n/a (-R)', recoveryMs: resumedMs, recovery: 'after SIGCONT: the steal is back (local app answers)',
      rulesLeft: left, jobsLeft: await ourJobs(env),
      dataLoss: 'none seen on new connections (each answer whole)',
      notes: [...notes, `CLI exit ${code}`], lapsedMs, resumedMs,
    };
  } finally {
    cli.child.kill('SIGKILL');
    await app.close();
  }
}
