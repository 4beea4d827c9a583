import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DRAIN_MS, runningCount, startBackground, stopAll, StoppingError, WaitError } from './background.ts';

const node = (code: string) => [process.execPath, '-e', code];

test('waitFor resolves on output (stdout or stderr), and stop sends one SIGINT', async () => {
  const proc = startBackground('sleeper', node(`
    let sigints = 0;
    process.on('SIGINT', () => { sigints++; console.error('sigint ' + sigints); setTimeout(() => process.exit(3), 200); });
    console.log('ready'); setInterval(() => {}, 1000);`), {});
  assert.deepEqual([...(await proc.waitFor(/ready/, 'it starts', 10_000))], ['ready']);
  assert.equal(await proc.stop(5_000), 3, 'it exits on its own after the SIGINT');
  assert.match(proc.output(), /sigint 1\n/);
  assert.doesNotMatch(proc.output(), /sigint 2/, 'exactly one SIGINT');
  assert.equal(proc.running, false);
});

test('stop escalates to SIGKILL when SIGINT is ignored, after the grace', async () => {
  const proc = startBackground('stubborn', node(`process.on('SIGINT', () => console.log('ignored')); console.log('ready'); setInterval(() => {}, 1000);`), {});
  await proc.waitFor(/ready/, 'it starts', 10_000);
  const start = Date.now();
  assert.equal(await proc.stop(300), 'SIGKILL');
  assert.ok(Date.now() - start >= 300, 'not before the grace');
  assert.match(proc.output(), /ignored/);
});

test('waitFor fails with the reason and the output when the process exits first, or after the timeout', async () => {
  const quitter = startBackground('quitter', node(`console.log('bye'); process.exit(6)`), {});
  await assert.rejects(quitter.waitFor(/never/, 'it says never', 10_000), (err: unknown) => {
    assert.ok(err instanceof WaitError);
    assert.equal(err.reason, 'quitter exited (6) first');
    assert.equal(err.evidence, 'bye');
    return true;
  });
  const quiet = startBackground('quiet', node(`setInterval(() => {}, 1000)`), {});
  await assert.rejects(quiet.waitFor(/never/, 'it says never', 200), /it says never: not within 0\.2 s/);
  await quiet.stop(2_000);
});

test('a command that cannot be started ends at once: waitFor names the spawn error, not its timeout', async () => {
  const missing = startBackground('missing', ['/nonexistent/kubectl-mirrord-demo-no-such-command'], {});
  await assert.rejects(missing.waitFor(/never printed/, 'it starts', 60_000), (err: unknown) => {
    assert.ok(err instanceof WaitError);
    assert.match(err.reason, /^missing could not start \(spawn \/nonexistent\/kubectl-mirrord-demo-no-such-command ENOENT\) first$/);
    return true;
  });
  assert.equal(await missing.exited, -1);
  assert.equal(missing.running, false);
});

// The CLI's last lines can arrive after its 'exit' (an exec proxy holds its pipes a moment longer).
const exitsBeforeItsOutput = (grandchild: string) => node(`
  const { spawn } = require('node:child_process');
  spawn(process.execPath, ['-e', ${JSON.stringify(grandchild)}], { stdio: ['ignore', 'inherit', 'inherit'] });
  console.log('parent done'); process.exit(5);`);

test('exited waits until the output was read to the end, so the last lines are in it and waitFor finds them', async () => {
  const proc = startBackground('late lines', exitsBeforeItsOutput(`setTimeout(() => console.error('the last line'), 300)`), {});
  assert.deepEqual([...(await proc.waitFor(/the last line/, 'the last line', 10_000))], ['the last line']);
  assert.equal(await proc.exited, 5);
  assert.match(proc.output(), /parent done\n[^]*the last line\n$/);
  assert.equal(proc.running, false);
});

test('exited stops waiting for the output DRAIN_MS after the exit when something keeps the pipes open', { timeout: DRAIN_MS + 20_000 }, async () => {
  const proc = startBackground('held', exitsBeforeItsOutput(`console.log('holder up'); setInterval(() => {}, 1000)`), {});
  try {
    assert.equal(await proc.exited, 5);
    await assert.rejects(proc.waitFor(/never printed/, 'it says never', 10_000),
      (err: unknown) => err instanceof WaitError && err.reason === `held exited (5; its output was still held open ${DRAIN_MS / 1000} s later) first`);
    assert.match(proc.output(), /holder up/);
  } finally {
    process.kill(-proc.child.pid!, 'SIGKILL'); // the holder, in the process group of the detached process
  }
});

// stopAll ends this file's use of startBackground (nothing starts after it): this test comes last.
test('stopAll stops every registered process, and from its start nothing starts (it would outlive the demo); lines reach onLine listeners whole', async () => {
  const lines: string[] = [];
  const a = startBackground('a', node(`process.stdout.write('one\\ntw'); setTimeout(() => process.stdout.write('o\\n'), 50); setInterval(() => {}, 1000);`), {});
  a.onLine((l) => lines.push(l));
  const slow = startBackground('slow', node(`
    process.on('SIGINT', () => setTimeout(() => process.exit(0), 300));
    console.log('ready'); setInterval(() => {}, 1000);`), {});
  await a.waitFor(/two\n/, 'both lines', 10_000);
  await slow.waitFor(/ready/, 'it starts', 10_000);
  assert.deepEqual(lines, ['one', 'two']);
  assert.ok(runningCount() >= 2);
  const stopping = stopAll(5_000);
  assert.ok(slow.running, 'slow is still stopping');
  // As a step still running when Ctrl-C came would: its next process must not start.
  assert.throws(() => startBackground('late', node(`setInterval(() => {}, 1000)`), {}),
    (err: unknown) => err instanceof StoppingError && err.message === 'the demo is stopping: late was not started');
  await stopping;
  assert.equal(await slow.exited, 0, 'slow exited on its own after the SIGINT');
  assert.equal(runningCount(), 0);
  assert.throws(() => startBackground('later', node(`setInterval(() => {}, 1000)`), {}), StoppingError);
});
