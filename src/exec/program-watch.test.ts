import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { isRunning, processIdentity, watchProgram } from './program-watch.ts';

test('a running process is running; once it exited (reaped or a zombie) it is not', async () => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  await once(child, 'spawn');
  const who = processIdentity(child.pid!);
  assert.match(who.startTime ?? '', /^\d+$/, 'the start time is read from /proc');
  assert.equal(isRunning(who), true);
  child.kill('SIGKILL');
  await once(child, 'exit');
  assert.equal(isRunning(who), false);
});

test('a process with the same pid but another start time is not the program (pid reuse)', () => {
  const me = processIdentity(process.pid);
  assert.equal(isRunning(me), true);
  assert.equal(isRunning({ pid: process.pid, startTime: String(Number(me.startTime) + 1) }), false);
});

test('a command name holding ") " does not shift the fields', async () => {
  const child = spawn(process.execPath, ['-e', 'process.title = "a) b) c"; setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
  try {
    await once(child, 'spawn');
    const before = processIdentity(child.pid!);
    // Wait until the kernel's command name is the new title (libuv sets it with prctl).
    while (!readFileSync(`/proc/${child.pid}/stat`, 'utf8').includes('a) b)')) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(processIdentity(child.pid!).startTime, before.startTime);
    assert.equal(isRunning(before), true);
  } finally {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
});

test('watchProgram calls back once after the process exits', async () => {
  const child = spawn('sleep', ['0.2'], { stdio: 'ignore' });
  await once(child, 'spawn');
  let calls = 0;
  const exited = new Promise<void>((resolve) => watchProgram(processIdentity(child.pid!), () => { calls++; resolve(); }, 20));
  // The watcher's timer is unref'd; keep this test alive until it fires.
  const keep = setInterval(() => {}, 1000);
  try {
    await exited;
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(calls, 1);
  } finally {
    clearInterval(keep);
  }
});
