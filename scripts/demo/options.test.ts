import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDemoArgs, UsageError, STEP_COUNT } from './options.ts';

test('no flags: every step; interactive exactly when stdin is a terminal', () => {
  assert.deepEqual(parseDemoArgs([], true), { help: false, interactive: true, lastStep: STEP_COUNT });
  assert.deepEqual(parseDemoArgs([], false), { help: false, interactive: false, lastStep: STEP_COUNT });
});

test('--interactive and --no-interactive override the terminal default', () => {
  assert.equal(parseDemoArgs(['--interactive'], false).interactive, true);
  assert.equal(parseDemoArgs(['--no-interactive'], true).interactive, false);
});

test('--step N stops after step N, in both spellings', () => {
  assert.equal(parseDemoArgs(['--step', '2'], false).lastStep, 2);
  assert.equal(parseDemoArgs(['--step=1'], false).lastStep, 1);
});

test('-h and --help ask for usage', () => {
  assert.equal(parseDemoArgs(['-h'], false).help, true);
  assert.equal(parseDemoArgs(['--help'], false).help, true);
});

for (const [argv, named] of [
  [['--bogus'], /--bogus/],
  [['stray'], /stray/],
  [['--step', '0'], /--step must be a whole number from 1 to 4, not "0"/],
  [['--step', '5'], /not "5"/],
  [['--step', '2.5'], /not "2\.5"/],
  [['--step'], /--step/],
  [['--interactive', '--no-interactive'], /contradict/],
] as Array<[string[], RegExp]>) {
  test(`bad usage ${JSON.stringify(argv)}: a UsageError (exit 2) naming it and the accepted flags`, () => {
    assert.throws(() => parseDemoArgs(argv, false), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.equal(err.exitCode, 2);
      assert.match(err.message, named);
      assert.match(err.message, /accepted: --interactive, --no-interactive, --step N \(N from 1 to 4\), --help/);
      return true;
    });
  });
}
