import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_AGENT_LISTEN, DEFAULT_IDLE_TIMEOUT_MS, parseAgentSettings, type AgentSettings } from './settings.ts';

const hash = 'ab'.repeat(32);

function ok(flags: Record<string, string>, env: Record<string, string> = {}): AgentSettings {
  const result = parseAgentSettings(flags, env);
  if ('error' in result) assert.fail(`unexpected error: ${result.error}`);
  return result;
}

function error(flags: Record<string, string>, env: Record<string, string> = {}): string {
  const result = parseAgentSettings(flags, env);
  assert.ok('error' in result, `expected an error for ${JSON.stringify({ flags, env })}`);
  return result.error;
}

test('defaults: loopback 7070, 60 s idle, info log', () => {
  assert.equal(DEFAULT_AGENT_LISTEN, '127.0.0.1:7070');
  assert.equal(DEFAULT_IDLE_TIMEOUT_MS, 60_000);
  const settings = ok({ 'token-sha256': hash });
  assert.deepEqual(settings, {
    host: '127.0.0.1', port: 7070, tokenSha256: Buffer.from(hash, 'hex'), idleTimeoutMs: 60_000, debug: false, target: {},
  });
});

test('every setting from flags, and from the environment; flags win', () => {
  const fromFlags = ok({ listen: '0.0.0.0:9000', 'token-sha256': hash.toUpperCase(), 'idle-timeout': '250', 'log-level': 'debug' });
  assert.deepEqual(fromFlags, { host: '0.0.0.0', port: 9000, tokenSha256: Buffer.from(hash, 'hex'), idleTimeoutMs: 250, debug: true, target: {} });
  const env = {
    MIRRORD_AGENT_LISTEN: '[::1]:7071', MIRRORD_AGENT_TOKEN_SHA256: 'cd'.repeat(32),
    MIRRORD_AGENT_IDLE_TIMEOUT_MS: '5000', MIRRORD_AGENT_LOG: 'debug',
  };
  assert.deepEqual(ok({}, env), { host: '::1', port: 7071, tokenSha256: Buffer.from('cd'.repeat(32), 'hex'), idleTimeoutMs: 5000, debug: true, target: {} });
  assert.equal(ok({ listen: '127.0.0.1:1', 'log-level': 'info' }, env).port, 1);
  assert.equal(ok({ listen: '127.0.0.1:1', 'log-level': 'info' }, env).debug, false);
  assert.equal(ok({ listen: 'localhost:0', 'token-sha256': hash }).host, 'localhost');
});

test('a bad --listen is named with what is accepted', () => {
  for (const listen of ['7070', '127.0.0.1', ':7070', '127.0.0.1:70000', '127.0.0.1:port', '::1:7070', '[::1]', '127.0.0.1:123456']) {
    const message = error({ listen, 'token-sha256': hash });
    assert.ok(message.includes(`--listen / MIRRORD_AGENT_LISTEN is "${listen}"`), message);
    assert.match(message, /expected HOST:PORT such as 127\.0\.0\.1:7070 or \[::1\]:7070/);
  }
  assert.match(error({}, { MIRRORD_AGENT_LISTEN: 'nope', MIRRORD_AGENT_TOKEN_SHA256: hash }), /MIRRORD_AGENT_LISTEN is "nope"/);
});

test('a missing or malformed token hash is named', () => {
  const cases: Array<Record<string, string>> = [{}, { 'token-sha256': 'ab' }, { 'token-sha256': 'zz'.repeat(32) }, { 'token-sha256': `${hash}00` }];
  for (const flags of cases) {
    assert.match(error(flags), /--token-sha256 \/ MIRRORD_AGENT_TOKEN_SHA256 must be the 64 hex digits of the SHA-256 of the session token/);
  }
});

test('a bad --idle-timeout is named with what is accepted', () => {
  for (const idle of ['abc', '99', '-1', '1.5', '', '1e9x']) {
    const message = error({ 'token-sha256': hash, 'idle-timeout': idle });
    assert.ok(message.includes(`--idle-timeout / MIRRORD_AGENT_IDLE_TIMEOUT_MS is "${idle}"`), message);
    assert.match(message, /expected whole milliseconds, at least 100/);
  }
  assert.equal(ok({ 'token-sha256': hash, 'idle-timeout': '100' }).idleTimeoutMs, 100);
});

test('a bad --log-level is named with what is accepted', () => {
  for (const level of ['trace', 'INFO', '']) {
    const message = error({ 'token-sha256': hash, 'log-level': level });
    assert.ok(message.includes(`--log-level / MIRRORD_AGENT_LOG is "${level}"; expected info or debug`), message);
  }
});

test('the target: a pid from flag or environment, a container id from the environment; bad ones are named', () => {
  assert.deepEqual(ok({ 'token-sha256': hash, 'target-pid': '1' }).target, { pid: 1 });
  assert.deepEqual(ok({ 'token-sha256': hash }, { MIRRORD_AGENT_TARGET_PID: '42', MIRRORD_TARGET_CONTAINER_ID: 'containerd://abcdef0123' }).target,
    { pid: 42, containerId: 'containerd://abcdef0123' });
  assert.match(error({ 'token-sha256': hash, 'target-pid': '0' }), /--target-pid \/ MIRRORD_AGENT_TARGET_PID is "0"; expected a process id/);
  assert.match(error({ 'token-sha256': hash }, { MIRRORD_TARGET_CONTAINER_ID: 'x y' }), /MIRRORD_TARGET_CONTAINER_ID is "x y"; expected a container id/);
});
