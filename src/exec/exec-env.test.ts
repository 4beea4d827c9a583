import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MirrordError } from '../errors.ts';
import { argMax, checkExecSize, LAYER_SOCKET_ENV, MAX_ARG_STRLEN, withLayer } from './exec-env.ts';

test('the layer goes first in LD_PRELOAD, a user preload stays after it', () => {
  assert.equal(withLayer({}, '/l.so', '/s').LD_PRELOAD, '/l.so');
  const env = withLayer({ LD_PRELOAD: '/mine.so /l.so' }, '/l.so', '/d/proxy.sock');
  assert.equal(env.LD_PRELOAD, '/l.so:/mine.so');
  assert.equal(env[LAYER_SOCKET_ENV], '/d/proxy.sock');
});

test('one variable over MAX_ARG_STRLEN, or too much in total, is E2BIG naming the biggest', () => {
  const big = 'x'.repeat(MAX_ARG_STRLEN);
  assert.throws(() => checkExecSize(['p'], { SMALL: '1', HUGE_CERT: big }), (err: unknown) => {
    assert.ok(err instanceof MirrordError);
    assert.equal(err.code, 'E2BIG');
    assert.match(err.message, /HUGE_CERT is 129 KiB, over the kernel's 128 KiB limit/);
    assert.match(err.hint ?? '', /--env-exclude/);
    return true;
  });
  const env: Record<string, string> = {};
  for (let i = 0; i < 40; i++) env[`V${i}`] = 'y'.repeat(100_000);
  assert.throws(() => checkExecSize(['p'], env, 2 * 1024 * 1024), /take \d+ KiB, over the 2048 KiB execve accepts \(E2BIG\); the biggest variables: V\d+ \(98 KiB\)/);
  checkExecSize(['p'], { A: '1' }, 2 * 1024 * 1024);
});

test('ARG_MAX is a quarter of the stack limit', () => {
  assert.equal(argMax('Max stack size            8388608              unlimited            bytes\n'), 2 * 1024 * 1024);
  assert.ok(argMax() > 0);
});
