/**
 * The re-exec that gives a relaying command its malloc settings, in a real child process: it keeps
 * its pid and arguments, runs with the settings, and hands its own children the user's
 * GLIBC_TUNABLES unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CLI_MALLOC_TUNABLES, tunedEnvironment } from './malloc-tuning.ts';

const CHILD = fileURLToPath(new URL('../../test/support/malloc-tuning-child.ts', import.meta.url));

async function run(args: string[], env: NodeJS.ProcessEnv): Promise<any> {
  const child = spawn(process.execPath, ['--max-semi-space-size=1', CHILD, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, out);
  return { ...JSON.parse(out), spawnedPid: child.pid };
}

const baseEnv = () => {
  const env = { ...process.env };
  delete env.GLIBC_TUNABLES;
  delete env.KUBECTL_MIRRORD_USER_GLIBC_TUNABLES;
  return env;
};

test('port-forward re-executes itself with the settings, in the same process, with the same arguments', async () => {
  const r = await run(['port-forward', '-L', '8080:web:80'], baseEnv());
  assert.equal(r.pid, r.spawnedPid, 'execve keeps the pid');
  assert.deepEqual(r.args, ['port-forward', '-L', '8080:web:80']);
  assert.ok(r.heapGrowthMb < 2, `12.5 MiB of 64 KiB buffers are mapped, not in the arena (it grew ${r.heapGrowthMb} MiB)`);
  assert.deepEqual(r.children, { GLIBC_TUNABLES: null, saved: null }, 'children get no GLIBC_TUNABLES, as the user had none');
  assert.match(r.runtime, new RegExp(`, --max-semi-space-size=1; malloc: ${CLI_MALLOC_TUNABLES}$`), 'Node options survive the re-exec');
});

test("the user's GLIBC_TUNABLES comes after ours (so it wins) and is what children get", async () => {
  const user = 'glibc.malloc.mmap_threshold=1048576';
  const r = await run(['socks', '1080'], { ...baseEnv(), GLIBC_TUNABLES: user });
  assert.ok(r.heapGrowthMb >= 12, `the user's threshold put the buffers in the arena (it grew ${r.heapGrowthMb} MiB)`);
  assert.deepEqual(r.children, { GLIBC_TUNABLES: user, saved: null });
  const empty = await run(['socks', '1080'], { ...baseEnv(), GLIBC_TUNABLES: '' });
  assert.deepEqual(empty.children, { GLIBC_TUNABLES: '', saved: null }, 'set but empty stays set but empty');
});

test('a command that relays nothing runs as started', async () => {
  const r = await run(['ls'], baseEnv());
  assert.ok(r.heapGrowthMb >= 12, `glibc's defaults put the buffers in the arena (it grew ${r.heapGrowthMb} MiB)`);
  assert.match(r.runtime, /; malloc: glibc's defaults$/);
});

test('a process started with tunedEnvironment() (the exec proxy) is tuned without a re-exec', async () => {
  const r = await run(['__exec-proxy'], tunedEnvironment(baseEnv()));
  assert.ok(r.heapGrowthMb < 2, `the buffers are mapped, not in the arena (it grew ${r.heapGrowthMb} MiB)`);
  assert.deepEqual(r.children, { GLIBC_TUNABLES: null, saved: null });
  assert.match(r.runtime, new RegExp(`; malloc: ${CLI_MALLOC_TUNABLES}$`));
});
