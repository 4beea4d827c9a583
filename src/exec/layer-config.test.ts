import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LayerFamily, LayerFilterKind, LayerFilterProto, LayerFilterSide, LayerFlag, LayerFsMode } from '../protocol/layer-messages.ts';
import { planExecFeatures } from './exec-plan.ts';
import { checkConfig } from '../config/config-schema.ts';
import { helloOk, isSkipped, pathPattern } from './layer-config.ts';

test('mount paths become anchored EREs for the path and everything under it', () => {
  assert.equal(pathPattern('/etc/app/', true), '^/etc/app(/.*)?$');
  assert.equal(pathPattern('/etc/a.b+c', false), '^/etc/a\\.b\\+c$');
  const re = new RegExp(pathPattern('/etc/app', true));
  assert.ok(re.test('/etc/app') && re.test('/etc/app/key') && !re.test('/etc/apple'));
});

test('HELLO_OK: targetless has no remote files; config flags, fs mode and user patterns arrive', () => {
  const targetless = helloOk({ features: planExecFeatures({}, undefined, false), mounts: undefined }, '/usr/bin/curl', 'curl');
  assert.equal(targetless.flags & LayerFlag.remoteFs, 0);
  assert.equal(targetless.fs_mode, LayerFsMode.local);
  assert.deepEqual(targetless.remote_paths, []);
  const config = checkConfig({ feature: { fs: { mode: 'localwithoverrides', read_only: ['^/srv/'], not_found: ['^/x$'], local: ['^/etc/app/cache'] }, network: { dns: false, outgoing: { udp: false, ignore_localhost: true } } }, skip_processes: ['bash'] }, 'm.json');
  const features = planExecFeatures({}, config, true);
  const hello = helloOk({ features, mounts: ['/etc/app'] }, '/usr/bin/python3', 'python3');
  // Incoming is mirror by default: binds ask the proxy.
  assert.equal(hello.flags, LayerFlag.remoteFs | LayerFlag.outgoingTcp | LayerFlag.outgoingIgnoreLocalhost | LayerFlag.incoming);
  const off = planExecFeatures({}, checkConfig({ feature: { network: { incoming: 'off' } } }, 'm.json'), true);
  assert.equal(helloOk({ features: off, mounts: [] }, '/usr/bin/python3', 'python3').flags & LayerFlag.incoming, 0, 'incoming off: binds are local');
  assert.equal(hello.fs_mode, LayerFsMode.localWithOverrides);
  assert.deepEqual(hello.remote_paths.map((p) => p.pattern), ['^/etc/app(/.*)?$', '^/etc/resolv\\.conf$', '^/etc/hosts$', '^/etc/hostname$', '^/srv/']);
  assert.deepEqual(hello.local_paths.map((p) => p.pattern), ['^/etc/app/cache']);
  assert.deepEqual(hello.not_found_paths.map((p) => p.pattern), ['^/x$']);
  assert.equal(hello.max_file_bytes, 64n * 1024n * 1024n);
  assert.ok(isSkipped(features, '/bin/bash', 'bash'));
  assert.ok(isSkipped(features, '/usr/bin/git', 'git'), 'build tools by default');
  assert.ok(!isSkipped(planExecFeatures({}, checkConfig({ skip_build_tools: false }, 'm.json'), true), '/usr/bin/git', 'git'));
});

test('HELLO_OK: the outgoing and DNS filters arrive as netFilter items the layer reads', () => {
  const config = checkConfig({ feature: { network: { outgoing: { filter: { local: ['IP-Info', 'tcp://10.96.0.0/12:5432', 'udp://[fd00::7]:53', ':8080'] } }, dns: { filter: { remote: ['echo'] } } } } }, 'm.json');
  const hello = helloOk({ features: planExecFeatures({}, config, true), mounts: [] }, '/usr/bin/curl', 'curl');
  assert.equal(hello.outgoing_filter_side, LayerFilterSide.local);
  assert.deepEqual(hello.outgoing_filter.map((i) => ({ ...i, addr: [...i.addr] })), [
    { kind: LayerFilterKind.name, proto: LayerFilterProto.any, family: 0, addr: [], prefix: 0, port: 0, name: 'ip-info' },
    { kind: LayerFilterKind.subnet, proto: LayerFilterProto.tcp, family: LayerFamily.ipv4, addr: [10, 96, 0, 0], prefix: 12, port: 5432, name: '' },
    { kind: LayerFilterKind.address, proto: LayerFilterProto.udp, family: LayerFamily.ipv6, addr: [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7], prefix: 128, port: 53, name: '' },
    { kind: LayerFilterKind.port, proto: LayerFilterProto.any, family: 0, addr: [], prefix: 0, port: 8080, name: '' },
  ]);
  assert.equal(hello.dns_filter_side, LayerFilterSide.remote);
  assert.deepEqual(hello.dns_filter.map((i) => i.name), ['echo']);
  const none = helloOk({ features: planExecFeatures({}, undefined, true), mounts: [] }, '/usr/bin/curl', 'curl');
  assert.equal(none.outgoing_filter_side, LayerFilterSide.none);
  assert.equal(none.dns_filter_side, LayerFilterSide.none);
  assert.deepEqual([none.outgoing_filter, none.dns_filter], [[], []]);
});
