/**
 * `npm run demo` (node scripts/demo.ts) end to end on the sandbox, non-interactively: every step's
 * check line, exit 0, and the sandbox the harness started is left running; Ctrl-C in the middle
 * exits 130 with every kubectl-mirrord process it started stopped; SIGHUP while step 4 stops the
 * mirroring copy exits 129 and step 4 starts nothing more; bad usage exits 2 naming the accepted
 * flags before anything starts.
 *
 * Needs root on Linux, make and a C compiler (the demo builds the layer), and the sandbox lock.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSandbox, type Sandbox } from '../sandbox/harness.ts';
import { isReady, readState } from '../sandbox/lifecycle.ts';
import { REPO, curl } from './cli-process.ts';

const DEMO = join(REPO, 'scripts', 'demo.ts');

let sandbox: Sandbox;

before(async () => {
  sandbox = await startSandbox();
});

after(async () => {
  await sandbox?.stop();
});

interface DemoRun {
  code: number | string;
  stdout: string;
  stderr: string;
}

/**
 * Runs the demo with `args`, stdin not a terminal; `onStdout` sees the output as it grows and may
 * signal the demo.
 */
function runDemo(args: string[], onStdout?: (stdout: string, pid: number) => void): Promise<DemoRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [DEMO, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); onStdout?.(stdout, child.pid!); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (code, signal) => resolve({ code: code ?? signal ?? -1, stdout, stderr }));
  });
}

test('npm run demo, non-interactive: every step checks its claim, exit 0, and the harness\'s sandbox keeps running', async () => {
  const run = await runDemo([]);
  const all = `${run.stdout}\n${run.stderr}`;
  assert.equal(run.code, 0, all);
  for (let n = 1; n <= 4; n++) {
    assert.match(run.stdout, new RegExp(`^━━ step ${n} of 4: `, 'm'), `step ${n} is announced`);
    assert.match(run.stdout, new RegExp(`^   ✓ step ${n} checked: `, 'm'), `step ${n}'s check line\n${all}`);
  }
  assert.doesNotMatch(run.stdout, /✗/, 'no check failed');
  assert.match(run.stdout, /^all 4 steps worked\.$/m);
  // Each step prints what a user types, and the configs are shown.
  assert.match(run.stdout, /^\s+\$ kubectl mirrord port-forward -L 8080:ip-visit-counter:80 --socks 1080$/m);
  assert.match(run.stdout, /^\s+\$ kubectl mirrord exec -t deployment\/ip-visit-counter -f scripts\/demo\/mirror\.json -- \S+ test\/sandbox\/images\/ip-visit-counter\.ts$/m);
  assert.match(run.stdout, /^\s+scripts\/demo\/steal-header\.json:\n\s+\{/m);
  assert.match(run.stdout, /curl -H 'X-User: me' http:\/\/127\.0\.0\.1:8080\/count/);
  assert.match(run.stderr, /a sandbox cluster already runs: the demo uses it and leaves it running/);
  assert.doesNotMatch(run.stderr, /stopping the sandbox cluster/);
  assert.ok(await isReady(readState()), 'the sandbox the harness started still runs');
  for (const port of [8080, 1080, 18080]) {
    assert.notEqual((await curl([`http://127.0.0.1:${port}/`])).code, 0, `nothing listens on 127.0.0.1:${port} after the demo`);
  }
});

test('Ctrl-C during step 3: exit 130, the port-forward and the exec\'d copy are stopped, the sandbox is left running', async () => {
  let sent = false;
  const run = await runDemo(['--no-interactive'], (stdout, pid) => {
    if (!sent && /^━━ step 3 of 4: /m.test(stdout)) {
      sent = true;
      process.kill(pid, 'SIGINT');
    }
  });
  assert.ok(sent, `the demo reached step 3:\n${run.stdout}\n${run.stderr}`);
  assert.equal(run.code, 130, `${run.stdout}\n${run.stderr}`);
  assert.match(run.stderr, /SIGINT: stopping the demo/);
  assert.match(run.stderr, /stopping 2 kubectl-mirrord process\(es\)/);
  for (const port of [8080, 1080, 18080]) {
    assert.notEqual((await curl([`http://127.0.0.1:${port}/`])).code, 0, `nothing listens on 127.0.0.1:${port} after Ctrl-C`);
  }
  assert.ok(await isReady(readState()), 'the sandbox the harness started still runs');
});

/** The pids of the processes with an argument containing `text`. */
function processesWith(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc').filter((e) => /^[0-9]+$/.test(e))) {
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').some((arg) => arg.includes(text))) pids.push(Number(entry));
    } catch {
      // it ended while we looked
    }
  }
  return pids;
}

test('SIGHUP while step 4 stops the mirroring copy: exit 129, and the steal copy step 4 goes on to start never starts', async () => {
  let sent = false;
  const run = await runDemo(['--no-interactive'], (stdout, pid) => {
    if (!sent && /stopping the mirroring copy/.test(stdout)) {
      sent = true;
      process.kill(pid, 'SIGHUP');
    }
  });
  const all = `${run.stdout}\n${run.stderr}`;
  assert.ok(sent, `the demo reached step 4:\n${all}`);
  assert.equal(run.code, 129, all);
  assert.match(run.stderr, /SIGHUP: stopping the demo/);
  assert.doesNotMatch(run.stdout, /✗/, `the stop is no failure of step 4\n${all}`);
  assert.doesNotMatch(run.stdout, /✓ step 4 checked/);
  assert.deepEqual(processesWith('steal-header.json'), [], 'no kubectl mirrord exec with step 4\'s config runs after the demo');
  for (const port of [8080, 1080, 18080]) {
    assert.notEqual((await curl([`http://127.0.0.1:${port}/`])).code, 0, `nothing listens on 127.0.0.1:${port} after SIGHUP`);
  }
  assert.ok(await isReady(readState()), 'the sandbox the harness started still runs');
});

test('bad usage: exit 2, naming the flag and the accepted ones, before anything starts', async () => {
  for (const args of [['--bogus'], ['--step', '9']]) {
    const run = await runDemo(args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, new RegExp(`^error: .*${args[args.length - 1].replace(/-/g, '\\-')}`, 'm'));
    assert.match(run.stderr, /accepted: --interactive, --no-interactive, --step N \(N from 1 to 4\), --help/);
    assert.match(run.stderr, /^hint: npm run demo -- --help$/m);
    assert.doesNotMatch(run.stderr, /sandbox|building/, 'nothing started');
    assert.equal(run.stdout, '');
  }
});
