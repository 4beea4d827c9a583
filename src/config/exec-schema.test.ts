import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MirrordError } from '../errors.ts';
import { checkConfig } from './config-schema.ts';
import { parseConfigText, stripJsonComments } from './config-file.ts';
import { planExecFeatures } from '../exec/exec-plan.ts';

function configError(document: unknown, fragment: RegExp, hint?: RegExp): void {
  assert.throws(() => checkConfig(document, 'm.json'), (err: unknown) => {
    assert.ok(err instanceof MirrordError, String(err));
    assert.equal(err.exitCode, 2);
    assert.match(err.message, fragment);
    if (hint) assert.match(err.hint ?? '', hint);
    return true;
  });
}

test('feature.env, fs, dns, outgoing, skip_processes as mirrord writes them', () => {
  const c = checkConfig({
    feature: {
      env: { include: 'A;B*', override: { X: '1' }, unset: ['y'], env_file: '.env', mapping: { '.+_TIMEOUT': '1000' } },
      fs: { mode: 'localwithoverrides', read_only: ['^/app/config'], local: '^/tmp', not_found: ['^/secret$'], readonly_file_buffer: 128000, max_file_size: 1024 },
      network: { dns: false, outgoing: { tcp: true, udp: false, ignore_localhost: true } },
    },
    skip_processes: 'bash;make',
    skip_build_tools: false,
  }, 'm.json');
  assert.deepEqual(c.exec.env, { enabled: true, include: ['A', 'B*'], exclude: undefined, override: { X: '1' }, unset: ['y'], envFile: '.env', mapping: [['.+_TIMEOUT', '1000']] });
  assert.deepEqual(c.exec.fs, { mode: 'localwithoverrides', readOnly: ['^/app/config'], local: ['^/tmp'], notFound: ['^/secret$'], maxFileBytes: 1024 });
  assert.equal(c.exec.dns, false);
  assert.deepEqual(c.exec.outgoing, { tcp: true, udp: false, ignoreLocalhost: true, filter: undefined });
  assert.deepEqual(c.exec.skipProcesses, ['bash', 'make']);
  assert.equal(c.exec.skipBuildTools, false);
  assert.deepEqual(c.warnings, []);
  assert.equal(checkConfig({ feature: { env: false, fs: false, network: { outgoing: false } } }, 'm.json').exec.env?.enabled, false);
  assert.equal(checkConfig({ feature: { fs: true } }, 'm.json').exec.fs?.mode, 'read');
});

test('known mirrord fields we do not support are warnings naming them', () => {
  const c = checkConfig({
    accept_invalid_certificates: true,
    experimental: { readlink: true },
    feature: { hostname: true, env: { load_from_process: true }, fs: { mode: 'write', read_write: ['x'] }, network: { ipv6: true, outgoing: { unix_streams: 'x' } } },
  }, 'm.json');
  const text = c.warnings.join('\n');
  for (const field of ['accept_invalid_certificates', 'experimental', 'feature.hostname', 'feature.env.load_from_process', 'feature.fs.mode "write"', 'feature.fs.read_write', 'feature.network.ipv6', 'feature.network.outgoing.unix_streams']) {
    assert.ok(text.includes(field), `${field} in ${text}`);
  }
  assert.ok(c.warnings.every((w) => w.startsWith('config file m.json: ')));
});

test('wrong types, unknown fields and contradictions are errors naming the field', () => {
  configError({ feature: { env: { include: ['A'], exclude: ['B'] } } }, /feature\.env\.include and feature\.env\.exclude are both given/, /give one of them/);
  configError({ feature: { env: { includ: ['A'] } } }, /feature\.env\.includ is not a known field/, /include, exclude, override/);
  configError({ feature: { env: { override: { A: 1 } } } }, /feature\.env\.override\.A must be a string, got 1/);
  configError({ feature: { env: { include: 3 } } }, /feature\.env\.include must be a list or a string, got 3/);
  configError({ feature: { env: { mapping: { '(': 'x' } } } }, /feature\.env\.mapping key 1 is not a valid regular expression/);
  configError({ feature: { fs: { mode: 'remote' } } }, /feature\.fs\.mode is "remote"/, /"read" .*"local" or "localwithoverrides"/);
  configError({ feature: { fs: { read_only: ['['] } } }, /feature\.fs\.read_only\[0\] is not a valid regular expression/);
  configError({ feature: { fs: { max_file_size: '64M' } } }, /feature\.fs\.max_file_size must be a whole number of bytes/);
  configError({ feature: { network: { outgoing: { tcp: 'yes' } } } }, /feature\.network\.outgoing\.tcp must be true or false, got "yes"/);
  configError({ feature: { network: { dns: { enable: true } } } }, /feature\.network\.dns\.enable is not a known field/, /enabled, filter/);
  configError({ skip_build_tools: 'no' }, /skip_build_tools must be true or false/);
});

test('JSON with comments and trailing commas, as mirrord\'s docs write it', () => {
  const text = '{\n  // the target\n  "target": "pod/x", /* inline */\n  "feature": { "env": { "include": ["A", "B",], }, },\n  "agent": { "image": "a//b,}" },\n}\n';
  const c = parseConfigText(text, 'm.json');
  assert.equal(c.target?.name, 'x');
  assert.deepEqual(c.exec.env?.include, ['A', 'B']);
  assert.equal(c.agentImage, 'a//b,}', 'strings are left alone');
  assert.equal(stripJsonComments('{"a":1,}').trim(), '{"a":1 }');
  assert.throws(() => parseConfigText('{"a": 1 // x', 'm.json'), /not valid JSON/);
});

test('flags over the file; contradictions between them; no target means no remote env or files', () => {
  const file = checkConfig({ feature: { env: { exclude: ['SECRET'] }, fs: 'local' } }, 'm.json');
  assert.throws(() => planExecFeatures({ envInclude: ['A'] }, file, true), /-s\/--env-include contradicts feature\.env\.exclude/);
  assert.throws(() => planExecFeatures({ envInclude: ['A'], envExclude: ['B'] }, undefined, true), /both given/);
  const f = planExecFeatures({ envExclude: ['X;Y'], fsMode: 'read', remoteDns: false, outgoing: false, envFile: 'e' }, file, true);
  assert.deepEqual(f.env.exclude, ['X', 'Y']);
  assert.equal(f.env.envFile, 'e');
  assert.equal(f.fs.mode, 'read');
  assert.equal(f.dns, false);
  assert.deepEqual(f.outgoing, { tcp: false, udp: false, ignoreLocalhost: false, filter: undefined });
  assert.equal(f.fs.maxFileBytes, 64 * 1024 * 1024);
  assert.equal(f.skipBuildTools, true);
  const targetless = planExecFeatures({}, undefined, false);
  assert.equal(targetless.env.enabled, false);
  assert.equal(targetless.fs.mode, 'local');
  assert.throws(() => planExecFeatures({ fsMode: 'read' }, undefined, false), /--fs-mode read reads the target's files, and no --target was given/);
  assert.throws(() => planExecFeatures({ fsMode: 'all' }, undefined, true), /invalid --fs-mode 'all'/);
  assert.throws(() => planExecFeatures({ remote: ['80'] }, undefined, true), /-R does not apply to exec/);
  const incoming = planExecFeatures({}, checkConfig({ feature: { network: { incoming: 'steal' } } }, 'm.json'), true);
  assert.equal(incoming.incoming.mode, 'steal');
  assert.doesNotMatch(incoming.warnings.join(), /incoming/, 'exec reads feature.network.incoming');
});

test('an exec config in TOML (mirrord.toml) reads the same as its JSON', () => {
  const toml = parseConfigText(`
target = "deployment/web"
skip_processes = ["bash", "make"]

[feature.env]
include = ["DB_*", "GREETING"]
override = { PORT = "9000" }
unset = ["AWS_PROFILE"]
mapping = { ".+_TIMEOUT" = "1000" }

[feature.fs]
mode = "read"
read_only = ["^/app/config/"]
max_file_size = 67108864

[feature.network]
dns = true
outgoing = { tcp = true, udp = false, ignore_localhost = false }
`, 'mirrord.toml');
  const json = parseConfigText(JSON.stringify({
    target: 'deployment/web',
    skip_processes: ['bash', 'make'],
    feature: {
      env: { include: ['DB_*', 'GREETING'], override: { PORT: '9000' }, unset: ['AWS_PROFILE'], mapping: { '.+_TIMEOUT': '1000' } },
      fs: { mode: 'read', read_only: ['^/app/config/'], max_file_size: 67108864 },
      network: { dns: true, outgoing: { tcp: true, udp: false, ignore_localhost: false } },
    },
  }), 'mirrord.json');
  assert.deepEqual(toml, json);
  assert.deepEqual(toml.exec.env?.include, ['DB_*', 'GREETING']);
  assert.equal(toml.exec.fs?.maxFileBytes, 67108864);
  // A TOML date where a string belongs is a wrong type, named like any other.
  assert.throws(() => parseConfigText('[feature.env]\nenv_file = 1979-05-27', 'm.toml'), /feature\.env\.env_file/);
  // include with exclude: the same contradiction error as from JSON.
  assert.throws(() => parseConfigText('[feature.env]\ninclude = ["A"]\nexclude = ["B"]', 'm.toml'), /include.*exclude|exclude.*include/);
});
