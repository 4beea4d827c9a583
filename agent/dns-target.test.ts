import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostsLookup, lookupInTarget, parseResolvConf, searchCandidates } from './dns-target.ts';

const kubeletResolv = 'search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n';

test('resolv.conf as the kubelet writes it: nameservers, search list, ndots', () => {
  assert.deepEqual(parseResolvConf(kubeletResolv), { nameservers: ['10.96.0.10'], search: ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], ndots: 5, timeoutMs: 5_000, attempts: 2 });
  assert.deepEqual(parseResolvConf('# c\nnameserver bogus\nnameserver fd00::a ; x\ndomain a.b\nsearch c.d\n'), { nameservers: ['fd00::a'], search: ['c.d'], ndots: 1, timeoutMs: 5_000, attempts: 2 });
  // glibc's caps: timeout at most 30 s, attempts at most 5; a 0 counts as 1.
  assert.deepEqual(parseResolvConf('nameserver 10.0.0.1\noptions timeout:1 attempts:3 ndots:2\n'), { nameservers: ['10.0.0.1'], search: [], ndots: 2, timeoutMs: 1_000, attempts: 3 });
  assert.deepEqual(parseResolvConf('options timeout:90 attempts:9\noptions attempts:0\n'), { nameservers: [], search: [], ndots: 1, timeoutMs: 30_000, attempts: 1 });
});

test('search candidates follow ndots: short names get the search domains first, dotted ones are tried as given first, a final dot never searches', () => {
  const conf = parseResolvConf(kubeletResolv);
  assert.deepEqual(searchCandidates('ip-info', conf), ['ip-info.shop.svc.cluster.local', 'ip-info.svc.cluster.local', 'ip-info.cluster.local', 'ip-info']);
  assert.deepEqual(searchCandidates('a.b.c.d.e.f', conf).slice(0, 2), ['a.b.c.d.e.f', 'a.b.c.d.e.f.shop.svc.cluster.local']);
  assert.deepEqual(searchCandidates('example.com.', conf), ['example.com']);
});

test('the target\'s /etc/hosts answers first, by name or alias, any case, per family', async () => {
  const hosts = '# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n10.244.0.7\tweb-1\n\n# Entries added by HostAliases.\n10.1.2.3\tlegacy-db\tDB.internal\nfd00::7 web-1\n';
  assert.deepEqual(hostsLookup(hosts, 'db.INTERNAL', 0), ['10.1.2.3']);
  assert.deepEqual(hostsLookup(hosts, 'web-1', 6), ['fd00::7']);
  assert.deepEqual(await lookupInTarget('legacy-db', 4, { resolvConf: 'nameserver 127.0.0.1\n', hosts }), ['10.1.2.3']);
});
