import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALWAYS_LOCAL, mergeEnvironment, parseDotenv, podVariables, wildcard } from './env-merge.ts';
import type { EnvConfig } from '../config/exec-schema.ts';

const base: EnvConfig = { enabled: true, include: undefined, exclude: undefined, override: {}, unset: [], envFile: undefined, mapping: [] };
const pod = { GREETING: 'hello', PATH: '/pod/bin', HOME: '/root', JAVA_TOOL_OPTIONS: '-javaagent:x', BUNDLER_ORIG_PATH: 'x', HOSTNAME: 'web-1', DB_TIMEOUT: '5', KUBECTL_MIRRORD_LAYER_SOCKET: '/evil' };

test('every pod variable comes over, except the always-local ones and our control variables', () => {
  const env = podVariables(pod, base);
  assert.deepEqual(Object.keys(env).sort(), ['DB_TIMEOUT', 'GREETING', 'HOSTNAME']);
});

test('include: only those; a wildcard does not name an always-local variable, an exact name does', () => {
  assert.deepEqual(Object.keys(podVariables(pod, { ...base, include: ['*'] })).sort(), ['DB_TIMEOUT', 'GREETING', 'HOSTNAME']);
  assert.deepEqual(podVariables(pod, { ...base, include: ['GREET*', 'PATH'] }), { GREETING: 'hello', PATH: '/pod/bin' });
  assert.deepEqual(podVariables(pod, { ...base, include: ['JAVA_TOOL_OPTIONS'] }), { JAVA_TOOL_OPTIONS: '-javaagent:x' });
  assert.deepEqual(podVariables(pod, { ...base, include: ['BUNDLER_ORIG_*'] }), {}, 'a prefix entry is not named by a wildcard');
  assert.deepEqual(podVariables(pod, { ...base, include: ['KUBECTL_MIRRORD_LAYER_SOCKET'] }), {}, 'control variables never come from the pod');
});

test('exclude, feature.env false', () => {
  assert.deepEqual(Object.keys(podVariables(pod, { ...base, exclude: ['DB_*', 'HOST?AME'] })), ['GREETING']);
  assert.deepEqual(podVariables(pod, { ...base, enabled: false }), {});
});

test('merge order: local, pod, env_file, mapping, override; unset last and case-insensitive', () => {
  const env = mergeEnvironment({
    local: { PATH: '/usr/bin', HOME: '/home/me', GREETING: 'local', LOCAL_ONLY: '1', DROP_me: 'x', NOTHING: undefined },
    pod,
    envFile: { FROM_FILE: 'f', GREETING: 'file' },
    config: { ...base, mapping: [['_TIMEOUT$', '1000'], ['^FROM_(.+)$', 'was-$1']], override: { GREETING: 'override' }, unset: ['drop_ME', 'hostname'] },
  });
  assert.equal(env.PATH, '/usr/bin');
  assert.equal(env.HOME, '/home/me');
  assert.equal(env.GREETING, 'override');
  assert.equal(env.DB_TIMEOUT, '1000');
  assert.equal(env.FROM_FILE, 'was-FILE');
  assert.equal(env.LOCAL_ONLY, '1');
  assert.equal(env.DROP_me, undefined);
  assert.equal(env.HOSTNAME, undefined);
  assert.ok(!('NOTHING' in env));
});

test('the always-local list holds the issue list and mirrord\'s', () => {
  for (const name of ['PATH', 'HOME', 'PWD', 'SHELL', 'TERM', 'USER', 'LANG', 'TMPDIR', 'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'NODE_OPTIONS', 'PYTHONPATH', 'LD_PRELOAD', 'LD_LIBRARY_PATH', 'CLASSPATH', 'GOPATH', 'RUST_LOG']) {
    assert.ok(ALWAYS_LOCAL.includes(name), name);
  }
});

test('wildcards', () => {
  assert.ok(wildcard('A*').test('ABC'));
  assert.ok(wildcard('A?C').test('ABC'));
  assert.ok(!wildcard('A?C').test('ABBC'));
  assert.ok(!wildcard('A.C').test('ABC'), 'a dot is literal');
});

test('dotenv', () => {
  assert.deepEqual(parseDotenv('# c\nA=1\nexport B = two words # note\nC="x\\ny \\"q\\""\nD=\'$lit\'\n\nE=\n'), { A: '1', B: 'two words', C: 'x\ny "q"', D: '$lit', E: '' });
  assert.throws(() => parseDotenv('A=1\nnot a line\n'), /line 2 is not NAME=value/);
  assert.throws(() => parseDotenv('A="open\n'), /line 1: unterminated double quote/);
});
