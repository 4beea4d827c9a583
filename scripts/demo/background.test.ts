import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runningCount, startBackground, stopAll, WaitError } from './background.ts';

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

test('stopAll stops every registered process; lines reach onLine listeners whole', async () => {
  const lines: string[] = [];
  const a = startBackground('a', node(`process.stdout.write('one\\ntw'); setTimeout(() => process.stdout.write('o\\n'), 50); setInterval(() => {}, 1000);`), {});
  a.onLine((l) => lines.push(l));
  startBackground('b', node(`setInterval(() => {}, 1000)`), {});
  await a.waitFor(/two\n/, 'both lines', 10_000);
  assert.deepEqual(lines, ['one', 'two']);
  assert.ok(runningCount() >= 2);
  await stopAll(2_000);
  assert.equal(runningCount(), 0);
});
