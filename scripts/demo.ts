/**
 * `npm run demo`: the sandbox cluster with the demo workload, then kubectl-mirrord's story in four
 * checked steps (scripts/demo/steps.ts): port-forward and SOCKS5; exec of the demo's
 * ip-visit-counter on this machine with the pod's context; mirroring; a header-filtered steal.
 * Flags and exit codes: scripts/demo/options.ts (`npm run demo -- --help`).
 *
 * Every exit path (success, a failed step, Ctrl-C, SIGTERM, SIGHUP when the terminal closes)
 * stops every CLI process the demo started (one SIGINT, SIGKILL after a bound; a second Ctrl-C
 * kills at once) and brings the sandbox down only if the demo started it: a sandbox someone else
 * started is left running. Once the stop began, no step goes on and nothing new starts.
 */
import { createInterface, type Interface } from 'node:readline';
import { killAll, runningCount, stopAll, STOP_GRACE_MS } from './demo/background.ts';
import { StepFailure } from './demo/checks.ts';
import { shellSetup } from './demo/commands.ts';
import { bringDownSandbox, bringUpSandbox, clusterTruth, deployWorkload } from './demo/context.ts';
import { parseDemoArgs, STEP_COUNT, USAGE, UsageError, type DemoOptions } from './demo/options.ts';
import { failed, heading, progress, say, tryIt } from './demo/print.ts';
import { newRunId, STEPS, type DemoState } from './demo/steps.ts';

const EXIT = { ok: 0, failed: 1, usage: 2, hangup: 129, interrupted: 130, terminated: 143 } as const;
const SIGNAL_EXIT = { SIGHUP: EXIT.hangup, SIGINT: EXIT.interrupted, SIGTERM: EXIT.terminated } as const;
type StopSignal = keyof typeof SIGNAL_EXIT;

let sandboxStarted: Promise<boolean> = Promise.resolve(false);
let cleaning: Promise<void> | undefined;
/** The exit code of the signal that stopped the demo, once one did. */
let stoppedBy: number | undefined;

/** Stops the CLI processes, then the sandbox if the demo started it. Runs once, whoever asks. */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    if (runningCount() > 0) progress(`stopping ${runningCount()} kubectl-mirrord process(es) (Ctrl-C to each; SIGKILL after ${STOP_GRACE_MS / 1000} s)...`);
    await stopAll();
    if (await sandboxStarted.catch(() => false)) {
      progress('stopping the sandbox cluster (the demo started it)...');
      await bringDownSandbox();
    }
  })();
  return cleaning;
}

function onSignal(signal: StopSignal): void {
  if (cleaning) {
    // A hangup is no one asking twice (it follows the end of stdin): the stop under way goes on.
    if (signal === 'SIGHUP') return;
    progress(`${signal} again: killing the kubectl-mirrord processes now`);
    killAll();
    return;
  }
  stoppedBy = SIGNAL_EXIT[signal];
  progress(`${signal}: stopping the demo`);
  void cleanup().finally(() => process.exit(SIGNAL_EXIT[signal]));
}

/**
 * Once the terminal closed, writing to it fails (EIO, as an 'error' event): without a listener
 * that would end the demo at once, its detached CLI processes left running. The demo stops as for
 * SIGHUP instead, and what it would still print is lost.
 */
function onOutputError(): void {
  if (!cleaning) onSignal('SIGHUP');
}

/**
 * "Press Enter": the next line of stdin, read through one readline interface for the whole run (a
 * second interface would lose what the first had buffered). Resolves at once once stdin ended.
 */
const pressEnter = (() => {
  const lines: string[] = [];
  const waiting: Array<() => void> = [];
  let ended = false;
  let rl: Interface | undefined;
  const wake = () => {
    while (waiting.length > 0 && (lines.length > 0 || ended)) {
      lines.shift();
      // A terminal echoes the Enter; from a pipe (or at end of input) end the prompt's line here.
      if (!process.stdin.isTTY) process.stdout.write('\n');
      waiting.shift()!();
    }
  };
  return (prompt: string): Promise<void> => {
    process.stdout.write(`\n   ${prompt}`);
    if (!rl) {
      rl = createInterface({ input: process.stdin, terminal: false });
      rl.on('line', (line) => { lines.push(line); wake(); });
      rl.on('close', () => { ended = true; wake(); });
    }
    return new Promise((resolve) => { waiting.push(resolve); wake(); });
  };
})();

async function setUp(): Promise<DemoState['truth']> {
  const up = bringUpSandbox(progress);
  sandboxStarted = up.then((r) => r.started);
  await up;
  await deployWorkload(progress);
  return await clusterTruth();
}

async function runDemo(options: DemoOptions): Promise<number> {
  let truth: DemoState['truth'];
  try {
    truth = await setUp();
  } catch (err) {
    if (stoppedBy !== undefined) return stoppedBy;
    failed('setup', (err as Error).message, '');
    return EXIT.failed;
  }
  if (stoppedBy !== undefined) return stoppedBy;
  process.stdout.write('\nTo try each step yourself, in another terminal:\n');
  for (const line of shellSetup()) process.stdout.write(`   ${line}\n`);
  const state: DemoState = { truth, run: newRunId(), note: (line) => say(line) };
  const steps = STEPS.slice(0, options.lastStep);
  for (const [i, step] of steps.entries()) {
    if (options.interactive && i > 0) await pressEnter(`Press Enter for step ${i + 1}: ${step.title} `);
    // A signal stopped the demo (while the last step or the prompt ran): no step goes on.
    if (stoppedBy !== undefined) return stoppedBy;
    heading(i + 1, STEPS.length, step.title);
    try {
      await step.run(state);
    } catch (err) {
      // What the stop ended (a process, or one it refused to start) is no failure of the step.
      if (stoppedBy !== undefined) return stoppedBy;
      const evidence = err instanceof StepFailure ? err.evidence : ((err as Error).stack ?? String(err));
      failed(i + 1, (err as Error).message, evidence);
      return EXIT.failed;
    }
    if (stoppedBy !== undefined) return stoppedBy;
    tryIt(step.tryIt);
  }
  const which = steps.length === STEPS.length ? `all ${STEPS.length} steps` : `steps 1 to ${steps.length}`;
  process.stdout.write(`\n${which} worked.\n`);
  if (options.interactive) await pressEnter('Everything above still runs: try the commands. Press Enter (or Ctrl-C) to stop it all. ');
  return stoppedBy ?? EXIT.ok;
}

async function main(): Promise<number> {
  let options: DemoOptions;
  try {
    options = parseDemoArgs(process.argv.slice(2), Boolean(process.stdin.isTTY));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`error: ${err.message}\nhint: npm run demo -- --help\n`);
    return EXIT.usage;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  if (STEPS.length !== STEP_COUNT) throw new Error(`STEP_COUNT (${STEP_COUNT}) must match the steps (${STEPS.length})`);
  for (const signal of Object.keys(SIGNAL_EXIT) as StopSignal[]) process.on(signal, onSignal);
  process.stdout.on('error', onOutputError);
  process.stderr.on('error', onOutputError);
  try {
    return await runDemo(options);
  } finally {
    await cleanup();
  }
}

// Exit explicitly: an exec proxy may hold a pipe of ours open for about 2 s after its program ends.
process.exit(await main());
