import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MirrordError } from '../errors.ts';
import { checkConfig } from './config-schema.ts';
import { entryText, FilterEntryError, parseDnsEntry, parseOutgoingEntry } from './traffic-filter.ts';
import { planExecFeatures } from '../exec/exec-plan.ts';

test('outgoing entries: every form mirrord accepts', () => {
  assert.deepEqual(parseOutgoingEntry('tcp://1.2.3.0/24:7777'), { kind: 'subnet', protocol: 'tcp', address: '1.2.3.0', prefix: 24, port: 7777 });
  assert.deepEqual(parseOutgoingEntry('tcp://[2800:3f0:4001:81e::2004]:7777'), { kind: 'address', protocol: 'tcp', address: '2800:3f0:4001:81e::2004', port: 7777 });
  assert.deepEqual(parseOutgoingEntry('tcp://'), { kind: 'port', protocol: 'tcp', port: 0 });
  assert.deepEqual(parseOutgoingEntry('tcp://google.com:7777'), { kind: 'name', protocol: 'tcp', name: 'google.com', port: 7777 });
  assert.deepEqual(parseOutgoingEntry('rust-lang.org'), { kind: 'name', protocol: 'any', name: 'rust-lang.org', port: 0 });
  assert.deepEqual(parseOutgoingEntry('localhost'), { kind: 'name', protocol: 'any', name: 'localhost', port: 0 });
  assert.deepEqual(parseOutgoingEntry('1.2.3.0/24'), { kind: 'subnet', protocol: 'any', address: '1.2.3.0', prefix: 24, port: 0 });
  assert.deepEqual(parseOutgoingEntry('udp://:7777'), { kind: 'port', protocol: 'udp', port: 7777 });
  assert.deepEqual(parseOutgoingEntry(':7777'), { kind: 'port', protocol: 'any', port: 7777 });
  assert.deepEqual(parseOutgoingEntry('0.0.0.0:53'), { kind: 'address', protocol: 'any', address: '0.0.0.0', port: 53 });
  assert.deepEqual(parseOutgoingEntry('ANY://IP-Info.default.'), { kind: 'name', protocol: 'any', name: 'ip-info.default', port: 0 });
  assert.deepEqual(parseOutgoingEntry('[fd00::]/64:80'), { kind: 'subnet', protocol: 'any', address: 'fd00::', prefix: 64, port: 80 });
});

test('outgoing entries: IPv6 without a port may go bare; v4-mapped addresses are IPv4', () => {
  assert.deepEqual(parseOutgoingEntry('fd00::7'), { kind: 'address', protocol: 'any', address: 'fd00::7', port: 0 });
  assert.deepEqual(parseOutgoingEntry('udp://fd00::/8'), { kind: 'subnet', protocol: 'udp', address: 'fd00::', prefix: 8, port: 0 });
  assert.deepEqual(parseOutgoingEntry('::'), { kind: 'address', protocol: 'any', address: '::', port: 0 });
  assert.deepEqual(parseOutgoingEntry('[::ffff:10.1.2.3]:80'), { kind: 'address', protocol: 'any', address: '10.1.2.3', port: 80 });
  assert.deepEqual(parseOutgoingEntry('[::ffff:10.0.0.0]/104'), { kind: 'subnet', protocol: 'any', address: '10.0.0.0', prefix: 8, port: 0 });
});

test('bad outgoing entries say what is wrong', () => {
  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['tcp://google.com/24:7777', /subnet needs an IP address/],
    [':7777udp://', /protocol before ":\/\/"/],
    ['meow://', /"meow:\/\/" is not tcp:\/\/, udp:\/\/ or any:\/\//],
    ['fd00::1:53:x', /not a host name|brackets/],
    ['[fd00::1', /no "]"/],
    ['[10.0.0.1]:80', /not an IPv6 address/],
    ['10.0.0/24', /subnet needs an IP address/],
    ['300.1.1.1', /not an IPv4 address/],
    ['db:65536', /port "65536"/],
    ['db:http', /port "http"/],
    ['10.0.0.0/33', /prefix length from 0 to 32/],
    ['[fd00::]/129', /from 0 to 128/],
    ['a..b', /not a host name/],
    ['-db', /not a host name/],
    ['db name', /not a host name/],
  ];
  for (const [text, why] of bad) {
    assert.throws(() => parseOutgoingEntry(text), (err: unknown) => err instanceof FilterEntryError && why.test(err.message), text);
  }
});

test('DNS entries take no protocol', () => {
  assert.deepEqual(parseDnsEntry('google.com:1337'), { kind: 'name', protocol: 'any', name: 'google.com', port: 1337 });
  assert.deepEqual(parseDnsEntry(':1337'), { kind: 'port', protocol: 'any', port: 1337 });
  assert.deepEqual(parseDnsEntry('1.1.1.0/24:1337'), { kind: 'subnet', protocol: 'any', address: '1.1.1.0', prefix: 24, port: 1337 });
  assert.throws(() => parseDnsEntry('tcp://db'), /takes no protocol/);
});

test('entryText writes an entry back as the user would', () => {
  for (const text of ['tcp://1.2.3.0/24:7777', 'udp://[fd00::1]:53', ':80', 'db.default', 'tcp://', 'any://[fd00::]/64']) {
    assert.equal(entryText(parseOutgoingEntry(text)), text.replace('any://', ''));
  }
});

function configError(document: unknown, fragment: RegExp, hint: RegExp): void {
  assert.throws(() => checkConfig(document, 'm.json'), (err: unknown) => {
    assert.ok(err instanceof MirrordError, String(err));
    assert.equal(err.exitCode, 2);
    assert.match(err.message, fragment);
    assert.match(err.hint ?? '', hint);
    return true;
  });
}

const outgoing = (filter: unknown) => ({ feature: { network: { outgoing: { filter } } } });
const dns = (filter: unknown) => ({ feature: { network: { dns: { filter } } } });

test('the config file: filters reach the exec plan', () => {
  const c = checkConfig({ feature: { network: { outgoing: { filter: { local: ['ip-info', 'tcp://:5432'] } }, dns: { filter: { remote: 'echo' } } } } }, 'm.json');
  assert.deepEqual(c.exec.outgoing?.filter, { side: 'local', entries: [{ kind: 'name', protocol: 'any', name: 'ip-info', port: 0 }, { kind: 'port', protocol: 'tcp', port: 5432 }] });
  assert.deepEqual(c.exec.dnsFilter, { side: 'remote', entries: [{ kind: 'name', protocol: 'any', name: 'echo', port: 0 }] });
  assert.deepEqual(c.warnings, []);
  const plan = planExecFeatures({}, c, true);
  assert.equal(plan.outgoing.filter?.side, 'local');
  assert.equal(plan.dnsFilter?.side, 'remote');
  const noDns = planExecFeatures({ remoteDns: false }, c, true);
  assert.equal(noDns.dnsFilter, undefined);
  assert.ok(noDns.warnings.some((w) => /dns\.filter is ignored: --no-remote-dns/.test(w)), noDns.warnings.join('\n'));
});

test('the config file: a bad entry names itself, its field and the accepted forms (exit 2)', () => {
  configError(outgoing({ local: ['ip-info', 'tcp://[fd00::1'] }), /feature\.network\.outgoing\.filter\.local\[1\] "tcp:\/\/\[fd00::1" is not a valid entry: .*no "\]"/, /\[tcp\|udp\|any:\/\/\]name\|address\|subnet\/mask\[:port\]/);
  configError(dns({ remote: ['udp://db'] }), /feature\.network\.dns\.filter\.remote\[0\] "udp:\/\/db" is not a valid entry: .*no protocol/, /name\|address\|subnet\/mask\[:port\]/);
  configError(outgoing({ remote: [5432] }), /outgoing\.filter\.remote\[0\] must be a string, got 5432/, /entries:/);
});

test('the config file: the filter object itself is checked', () => {
  configError(outgoing({ remote: ['a'], local: ['b'] }), /outgoing\.filter has both remote and local/, /\{ "remote": \[entries\] \}/);
  configError(outgoing({}), /outgoing\.filter is empty/, /"local"/);
  configError(outgoing({ remtoe: ['a'] }), /outgoing\.filter\.remtoe is not a known field/, /"remote"/);
  configError(outgoing(['a']), /outgoing\.filter must be an object, got a list/, /"remote"/);
  configError(outgoing({ local: [] }), /outgoing\.filter\.local is an empty list/, /at least one entry/);
  configError(outgoing({ local: { a: 1 } }), /outgoing\.filter\.local must be a list of entries, got an object/, /entries/);
  // mirrord accepts an empty DNS list, with a warning saying what it means.
  const c = checkConfig(dns({ remote: [] }), 'm.json');
  assert.deepEqual(c.exec.dnsFilter, { side: 'remote', entries: [] });
  assert.ok(c.warnings.some((w) => /dns\.filter\.remote is empty: every lookup resolves on this machine/.test(w)), c.warnings.join('\n'));
});
