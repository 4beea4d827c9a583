import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkConfig } from '../config/config-schema.ts';
import { MirrordError } from '../errors.ts';
import { planExecFeatures, planIncoming } from './exec-plan.ts';
import { decideBind, unfilteredWarning } from './incoming-rules.ts';

function plan(incoming: unknown, steal = false) {
  return planIncoming({ steal }, checkConfig({ feature: { network: { incoming } } }, 'm.json'), true);
}

function configError(incoming: unknown, pattern: RegExp): void {
  assert.throws(() => checkConfig({ feature: { network: { incoming } } }, 'm.json'), (err: unknown) => {
    assert.ok(err instanceof MirrordError && err.exitCode === 2, String(err));
    assert.match(err.message, pattern);
    return true;
  });
}

test('the incoming plan: mirror by default, --steal over the file, port pairs as mirrord writes them', () => {
  assert.equal(planExecFeatures({}, undefined, true).incoming.mode, 'mirror');
  assert.equal(plan('off').mode, 'off');
  assert.equal(plan('off', true).mode, 'steal', '--steal overrides the file');
  const p = plan({ mode: 'steal', port_mapping: [[9333, 80]], listen_ports: [[80, 7777]], ignore_ports: [22], http_filter: { header_filter: '^x-user: me$' } });
  assert.deepEqual(p.portMapping, [[9333, 80]]);
  assert.deepEqual(p.listenPorts, [[80, 7777]]);
  assert.deepEqual(p.ignorePorts, [22]);
  assert.deepEqual(p.httpFilter, { header: '^x-user: me$', path: undefined, ports: [80, 8080] }, 'http_filter.ports defaults to [80, 8080]');
  assert.throws(() => planIncoming({ steal: true }, undefined, false), /--steal takes the traffic of a target pod, and no --target was given/);
});

test('bad incoming fields are errors naming the field', () => {
  configError({ port_mapping: [[1, 80], [1, 81]] }, /port_mapping\[1\] maps local port 1 a second time/);
  configError({ port_mapping: [[1, 80], [2, 80]] }, /port_mapping\[1\] maps remote port 80 a second time/);
  configError({ ports: [80], ignore_ports: [81] }, /feature\.network\.incoming\.ports was given together with ignore_ports/);
  configError({ mode: 'steal', http_filter: { header_filter: '(' } }, /http_filter\.header_filter is not a valid regular expression/);
  configError({ mode: 'stael' }, /feature\.network\.incoming\.mode is "stael"/);
  configError('stael', /feature\.network\.incoming is "stael"/);
  configError({ ignore_localhost: 'yes' }, /ignore_localhost must be true or false/);
  configError({ listen_ports: [[80, 0]] }, /listen_ports\[0\]\[1\] must be a TCP port/);
  configError({ ports: 80 }, /feature\.network\.incoming\.ports must be a list of ports/);
});

test('bind rules: ports, ignore_ports, ignore_localhost, listen_ports, port_mapping', () => {
  const all = plan({ port_mapping: [[9333, 80]], listen_ports: [[9333, 7777]] });
  assert.deepEqual(decideBind(all, '0.0.0.0', 9333), { take: true, listenPort: 7777, remotePort: 80 });
  assert.deepEqual(decideBind(all, '::', 8080), { take: true, listenPort: 8080, remotePort: 8080 });
  assert.deepEqual(decideBind(all, '127.0.0.1', 8080), { take: true, listenPort: 8080, remotePort: 8080 }, 'loopback is taken unless ignore_localhost');
  const only = plan({ ports: [8080] });
  assert.equal(decideBind(only, '0.0.0.0', 8080).take, true);
  assert.deepEqual(decideBind(only, '0.0.0.0', 9000), { take: false, why: 'feature.network.incoming.ports does not list it' });
  assert.deepEqual(decideBind(plan({ ignore_ports: [9000] }), '0.0.0.0', 9000), { take: false, why: 'feature.network.incoming.ignore_ports lists it' });
  const local = plan({ ignore_localhost: true });
  assert.equal(decideBind(local, '127.0.0.1', 8080).take, false);
  assert.equal(decideBind(local, '::1', 8080).take, false);
  assert.equal(decideBind(local, '0.0.0.0', 8080).take, true);
  assert.equal(decideBind(plan('off'), '0.0.0.0', 8080).take, false);
});

test('a filtered steal of a port outside http_filter.ports is said, naming the setting', () => {
  const filtered = plan({ mode: 'steal', http_filter: { path_filter: '^/api' } });
  assert.equal(unfilteredWarning(filtered, 8080), undefined);
  assert.match(unfilteredWarning(filtered, 9000) ?? '', /^port 9000 is not in feature\.network\.incoming\.http_filter\.ports \(80, 8080\): every request to it is stolen/);
  assert.equal(unfilteredWarning(plan({ mode: 'steal' }), 9000), undefined, 'no filter: nothing to say');
});
