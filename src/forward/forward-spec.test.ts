import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MirrordError } from '../errors.ts';
import { parseBindAddress, parseForwardSpec, parseForwardSpecs } from './forward-spec.ts';

test('-L accepted forms', () => {
  const cases: Array<[string, number, string, string, number]> = [
    ['8080:ip-info:80', 8080, 'ip-info', 'hostname', 80],
    ['ip-info:80', 80, 'ip-info', 'hostname', 80],
    ['ip-info.default.svc.cluster.local:8443', 8443, 'ip-info.default.svc.cluster.local', 'hostname', 8443],
    ['ip-info.default.svc.cluster.local.:1', 1, 'ip-info.default.svc.cluster.local.', 'hostname', 1],
    ['9000:10.244.0.5:8080', 9000, '10.244.0.5', 'ipv4', 8080],
    ['[fd00:10:244::5]:80', 80, 'fd00:10:244::5', 'ipv6', 80],
    ['9000:[::1]:65535', 9000, '::1', 'ipv6', 65535],
    ['0:web:80', 0, 'web', 'hostname', 80],
  ];
  for (const [text, localPort, host, kind, port] of cases) {
    assert.deepEqual(parseForwardSpec(text), { localPort, host, hostKind: kind, port, protocol: 'tcp', text }, text);
  }
});

test('-L /udp and /tcp suffixes', () => {
  assert.deepEqual(parseForwardSpec('5353:kube-dns.kube-system:53/udp'),
    { localPort: 5353, host: 'kube-dns.kube-system', hostKind: 'hostname', port: 53, protocol: 'udp', text: '5353:kube-dns.kube-system:53/udp' });
  assert.equal(parseForwardSpec('9000:[fd00::1]:9000/UDP').protocol, 'udp');
  assert.equal(parseForwardSpec('ip-info:80/tcp').protocol, 'tcp');
  assert.equal(parseForwardSpec('ip-info:80/tcp').localPort, 80);
  // DNS on one port number over both transports is two listeners, not a clash.
  assert.equal(parseForwardSpecs(['5353:dns:53/udp', '5353:dns:53/tcp']).length, 2);
  assertSpecError(() => parseForwardSpecs(['5353:dns:53/udp', '5353:other:53/udp']), /both listen on local UDP port 5353/);
});

function assertSpecError(fn: () => unknown, fragment: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MirrordError, 'a MirrordError');
    assert.equal(err.exitCode, 2);
    assert.match(err.message, fragment);
    assert.ok(err.hint && err.hint.length > 0, 'has a hint');
    return true;
  });
}

test('-L rejected forms name the flag, the value and the problem', () => {
  const bad: Array<[string, RegExp]> = [
    ['', /-L '': the value is empty/],
    ['8080', /a port is required/],
    ['web', /a port is required/],
    ['8080:web:', /remote port is empty/],
    [':web:80', /local port is empty/],
    ['8080:web:http', /remote port 'http' is not a number/],
    ['8080:web:0', /remote port 0 is out of range 1-65535/],
    ['8080:web:65536', /out of range/],
    ['70000:web:80', /local port 70000 is out of range 0-65535/],
    ['-1:web:80', /local port '-1' is not a number/],
    ['8080::80', /host is empty/],
    ['8080:fd00::1:80', /IPv6 address in brackets/],
    ['127.0.0.1:8080:web:80', /too many parts: .*--address/],
    ['8080:[fd00::1:80', /unbalanced brackets/],
    ['8080:[web]:80', /not an IPv6 address/],
    ['8080:[10.0.0.1]:80', /not an IPv6 address/],
    ['8080:300.1.1.1:80', /neither an IPv4 address/],
    ['8080:we b:80', /neither/],
    ['8080:-web:80', /neither/],
    ['8080:web-:80', /neither/],
    ['8080:a..b:80', /neither/],
    [`8080:${'a'.repeat(64)}:80`, /neither/],
    ['8080: web:80', /neither/],
    ['8080:web:8 0', /not a number/],
    ['8080:web:0x50', /not a number/],
    ['5353:dns:53/sctp', /unknown protocol '\/sctp': only \/tcp and \/udp are forwarded/],
    ['5353:dns:53/', /nothing after the \/: write \/tcp or \/udp/],
    ['5353:dns:53/udp/udp', /port '53\/udp' is not a number/],
    ['5353:dns/udp:53', /unknown protocol '\/udp:53'/],
  ];
  for (const [text, fragment] of bad) assertSpecError(() => parseForwardSpec(text), fragment);
});

test('two -L on one local port are refused; port 0 may repeat', () => {
  assertSpecError(() => parseForwardSpecs(['8080:a:80', 'b:8080']), /both listen on local TCP port 8080/);
  assert.equal(parseForwardSpecs(['0:a:80', '0:b:80']).length, 2);
});

test('--address', () => {
  assert.equal(parseBindAddress('127.0.0.1'), '127.0.0.1');
  assert.equal(parseBindAddress('localhost'), '127.0.0.1');
  assert.equal(parseBindAddress('::1'), '::1');
  assert.equal(parseBindAddress('[::]'), '::');
  assertSpecError(() => parseBindAddress('my-laptop'), /invalid --address 'my-laptop': not an IP address/);
  assertSpecError(() => parseBindAddress(''), /--address/);
});
