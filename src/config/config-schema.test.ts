import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MirrordError } from '../errors.ts';
import { checkConfig } from './config-schema.ts';
import { parseConfigText } from './config-file.ts';

function configError(document: unknown, fragment: RegExp, hint?: RegExp): void {
  assert.throws(() => checkConfig(document, 'm.json'), (err: unknown) => {
    assert.ok(err instanceof MirrordError, String(err));
    assert.equal(err.exitCode, 2);
    assert.match(err.message, fragment);
    if (hint) assert.match(err.hint ?? '', hint);
    return true;
  });
}

test('a full config', () => {
  const config = checkConfig({
    $schema: 'https://example/schema.json',
    target: { path: 'deploy/web/container/app', namespace: 'shop' },
    agent: { image: 'registry.local/agent:1', namespace: 'mirrord' },
    feature: { network: { incoming: { mode: 'steal', http_filter: { header_filter: '^x-user: me$', ports: [8080] }, port_mapping: [[9333, 80]] } } },
  }, 'm.json');
  assert.deepEqual(config.target, { kind: 'deployment', name: 'web', container: 'app', text: 'deploy/web/container/app' });
  assert.equal(config.targetNamespace, 'shop');
  assert.equal(config.agentImage, 'registry.local/agent:1');
  assert.equal(config.agentNamespace, 'mirrord');
  assert.equal(config.incoming?.mode, 'steal');
  assert.deepEqual(config.incoming?.httpFilter, { header: '^x-user: me$', path: undefined, ports: [8080] });
  assert.deepEqual([...config.incoming!.portMapping], [[80, 9333]], 'port_mapping pairs are [local, remote], keyed by remote');
});

test('agent.image_pull_policy and agent.image_pull_secrets, as in mirrord\'s schema', () => {
  const config = checkConfig({ agent: { image_pull_policy: 'Always', image_pull_secrets: [{ name: 'regcred' }, 'other'] } }, 'm.json');
  assert.equal(config.agentImagePullPolicy, 'Always');
  assert.deepEqual(config.agentImagePullSecrets, ['regcred', 'other']);
  configError({ agent: { image_pull_policy: 'Sometimes' } }, /agent\.image_pull_policy in m\.json is 'Sometimes'/, /Always, IfNotPresent, Never/);
  configError({ agent: { image_pull_secrets: 'regcred' } }, /agent\.image_pull_secrets.*must be a list/);
  configError({ agent: { image_pull_secrets: [{ secret: 'x' }] } }, /agent\.image_pull_secrets\[0\]\.secret.*not a known field/);
});

test('short forms and defaults', () => {
  assert.equal(checkConfig({ target: 'pod/a' }, 'm').target?.kind, 'pod');
  assert.equal(checkConfig({ feature: { network: { incoming: 'steal' } } }, 'm').incoming?.mode, 'steal');
  assert.equal(checkConfig({ feature: { network: { incoming: {} } } }, 'm').incoming?.mode, 'mirror', 'mode defaults to mirror');
  const filter = checkConfig({ feature: { network: { incoming: { mode: 'steal', http_filter: { path_filter: '^(?!/health)' } } } } }, 'm').incoming?.httpFilter;
  assert.deepEqual(filter?.ports, [80, 8080], 'ports default to 80 and 8080');
  assert.equal(checkConfig(null, 'm').target, undefined, 'an empty file is an empty config');
});

test('unknown fields name their path and the accepted ones', () => {
  configError({ feature: { network: { incomming: 'steal' } } }, /m\.json: feature\.network\.incomming is not a known field/, /incoming/);
  configError({ targett: 'pod/a' }, /targett is not a known field/, /target, agent, feature/);
  configError({ agent: { image: 'x', namespce: 'y' } }, /agent\.namespce is not a known field/, /image, image_pull_policy, image_pull_secrets, namespace/);
  configError({ target: { path: 'pod/a', name: 'x' } }, /target\.name is not a known field/);
  configError({ feature: { network: { incoming: { mode: 'steal', http_filter: { header: 'x' } } } } }, /http_filter\.header is not a known field/, /header_filter, path_filter, ports/);
  configError({ feature: { fss: 'read' } }, /feature\.fss is not a known field/, /env, fs/);
});

test('bad values name the field', () => {
  configError({ feature: { network: { incoming: 'copy' } } }, /feature\.network\.incoming is "copy"/, /"mirror", "steal"/);
  configError({ feature: { network: { incoming: { mode: 3 } } } }, /incoming\.mode is 3/);
  configError({ feature: { network: { incoming: { mode: 'steal', http_filter: { header_filter: '(' } } } } }, /http_filter\.header_filter is not a valid regular expression: .*Unterminated group/);
  configError({ feature: { network: { incoming: { mode: 'steal', http_filter: { path_filter: '[' } } } } }, /http_filter\.path_filter is not a valid regular expression/);
  configError({ feature: { network: { incoming: { mode: 'steal', http_filter: {} } } } }, /neither header_filter nor path_filter/);
  configError({ feature: { network: { incoming: { mode: 'steal', http_filter: { path_filter: 'a', ports: [0] } } } } }, /http_filter\.ports\[0\] must be a TCP port/);
  configError({ feature: { network: { incoming: { http_filter: { path_filter: 'a' } } } } }, /http_filter needs mode "steal"/);
  configError({ feature: { network: { incoming: { port_mapping: [[1, 2, 3]] } } } }, /port_mapping\[0\] must be a \[local_port, remote_port\] pair/);
  configError({ feature: { network: { incoming: { port_mapping: [[1, 70000]] } } } }, /port_mapping\[0\]\[1\] must be a TCP port/);
  configError({ feature: { network: { incoming: { port_mapping: [[1, 80], [2, 80]] } } } }, /maps remote port 80 a second time/);
  configError({ agent: { image: '' } }, /agent\.image must be a non-empty string/);
  configError({ target: 'web' }, /invalid target in m\.json 'web'/);
  configError({ target: 'service/web' }, /unknown kind 'service'/);
  configError([1], /must be an object, got a list/);
});

test('files: JSON, YAML, TOML, syntax errors', () => {
  const yaml = parseConfigText('target: deployment/web\nfeature:\n  network:\n    incoming:\n      mode: steal\n      http_filter:\n        path_filter: "^(?!/health)"\n', 'm.yaml');
  assert.equal(yaml.target?.name, 'web');
  assert.equal(yaml.incoming?.httpFilter?.path, '^(?!/health)');
  assert.equal(parseConfigText('{"target": "pod/x"}', 'm.json').target?.name, 'x');
  // TOML as mirrord.toml writes it: the same fields, the same checks.
  const toml = parseConfigText([
    'target = "deployment/web"',
    '[feature.network.incoming]',
    'mode = "steal"',
    'port_mapping = [[8080, 80]]',
    '[feature.network.incoming.http_filter]',
    'header_filter = "^x-user: alice$"',
  ].join('\n'), 'mirrord.toml');
  const sameAsJson = parseConfigText(JSON.stringify({ target: 'deployment/web', feature: { network: { incoming: { mode: 'steal', port_mapping: [[8080, 80]], http_filter: { header_filter: '^x-user: alice$' } } } } }), 'm.json');
  assert.deepEqual(toml, sameAsJson);
  assert.equal(toml.target?.name, 'web');
  assert.throws(() => parseConfigText('target = "deployment/web"\nfeature = { nework = {} }', 'm.toml'), /nework/);
  assert.throws(() => parseConfigText('target = 7', 'm.toml'), /target/);
  assert.throws(() => parseConfigText('target = \n', 'm.TOML'), /m\.TOML is not valid TOML: .*\(line 1, column \d+\)/);
  assert.throws(() => parseConfigText('{"target": ', 'm.json'), /m\.json is not valid JSON/);
  assert.throws(() => parseConfigText('a: [1,\n b: 2', 'm.yml'), /m\.yml is not valid YAML/);
});
