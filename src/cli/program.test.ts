import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ExitCode } from '../errors.ts';

const run = promisify(execFile);
const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

// A module hook, loaded before main.ts, that fails any resolution of @kubernetes/client-node.
const GUARD = `data:text/javascript,${encodeURIComponent(`
import { registerHooks } from 'node:module';
registerHooks({ resolve(specifier, context, next) {
  if (specifier.startsWith('@kubernetes/client-node')) throw new Error('client-node loaded by --help');
  return next(specifier, context);
} });`)}`;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', GUARD, MAIN, ...args], { env: { ...process.env, NO_COLOR: '1' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('--help lists the commands and every exit code, without loading client-node', async () => {
  for (const args of [['--help'], ['port-forward', '--help'], ['socks', '--help'], ['ls', '--help']]) {
    const { code, stdout, stderr } = await cli(args);
    assert.equal(code, 0, stderr);
    for (const value of Object.values(ExitCode)) assert.match(stdout, new RegExp(`^\\s+${value}  \\S`, 'm'), `exit code ${value} in ${args.join(' ')} --help`);
  }
  assert.match((await cli(['--help'])).stdout, /port-forward[\s\S]*socks[\s\S]*exec[\s\S]*ls/);
});

test('--version prints the package version', async () => {
  const { stdout } = await cli(['--version']);
  assert.match(stdout.trim(), /^\d+\.\d+\.\d+/);
});

test('exec of a missing program is 127, -R under exec and --steal without a target are usage errors; unknown flags and bad -R/--target are usage errors, without loading client-node', async () => {
  const missing = await cli(['exec', '--', 'no-such-program-kubectl-mirrord']);
  assert.equal(missing.code, ExitCode.notFound);
  assert.match(missing.stderr, /^error: no-such-program-kubectl-mirrord: command not found\nhint: /);
  const incoming = await cli(['exec', '-R', '80', '--', 'true']);
  assert.equal(incoming.code, ExitCode.usage);
  assert.match(incoming.stderr, /^error: -R does not apply to exec: the ports the program listens on are subscribed by themselves/);
  const stealAlone = await cli(['exec', '--steal', '--', 'true']);
  assert.equal(stealAlone.code, ExitCode.usage);
  assert.match(stealAlone.stderr, /^error: --steal takes the traffic of a target pod, and no --target was given/);
  const noTarget = await cli(['port-forward', '-R', '80']);
  assert.equal(noTarget.code, ExitCode.usage);
  assert.match(noTarget.stderr, /^error: reverse forwarding needs a target \(--target pod\/NAME …\)\nhint: /);
  const badTarget = await cli(['port-forward', '-t', 'svc/web', '-R', '80']);
  assert.equal(badTarget.code, ExitCode.usage);
  assert.match(badTarget.stderr, /invalid --target 'svc\/web': unknown kind 'svc'/);
  const lsBoth = await cli(['ls', '-A', '-n', 'x']);
  assert.equal(lsBoth.code, ExitCode.usage);
  assert.match(lsBoth.stderr, /exclude each other/);
  const bad = await cli(['port-forward', '--bogus']);
  assert.equal(bad.code, ExitCode.usage);
  assert.match(bad.stderr, /unknown option '--bogus'/);
});
