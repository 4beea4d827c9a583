import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeStore } from './fake-store.ts';
import { renderRules, servicePorts } from './kube-proxy.ts';

function fixture() {
  const s = new FakeStore();
  s.put('services', { metadata: { name: 'web' }, spec: { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80, targetPort: 'http' }, { name: 'dns', port: 53, protocol: 'UDP' }] } });
  s.put('endpoints', { metadata: { name: 'web' }, subsets: [{ addresses: [{ ip: '10.244.0.2' }, { ip: '10.244.0.3' }, { ip: '10.244.0.4' }], ports: [{ name: 'http', port: 8080 }, { name: 'dns', port: 5353, protocol: 'UDP' }] }] });
  s.put('services', { metadata: { name: 'lonely' }, spec: { clusterIP: '10.96.0.21', ports: [{ port: 81 }] } });
  s.put('services', { metadata: { name: 'headless' }, spec: { clusterIP: 'None', ports: [{ port: 82 }] } });
  return servicePorts(s.list('services'), s.list('endpoints'));
}

test('servicePorts joins Service ports with Endpoints ports by name and protocol', () => {
  const ports = fixture();
  const web = ports.find((p) => p.key === 'default/web:http/tcp')!;
  assert.deepEqual(web.endpoints.map((e) => `${e.ip}:${e.port}`), ['10.244.0.2:8080', '10.244.0.3:8080', '10.244.0.4:8080']);
  assert.deepEqual(ports.find((p) => p.key === 'default/web:dns/udp')!.endpoints[0], { ip: '10.244.0.2', port: 5353 });
  assert.equal(ports.find((p) => p.key.startsWith('default/lonely'))!.endpoints.length, 0);
  assert.equal(ports.some((p) => p.key.startsWith('default/headless')), false);
});

test('renderRules balances with decreasing probabilities, masquerades hairpin, rejects empty services', () => {
  const { script, chains } = renderRules(fixture(), new Set(['KMSB-SVC-OLD']));
  assert.match(script, /-A KMSB-SERVICES -d 10\.96\.0\.20\/32 -p tcp -m tcp --dport 80 .* -j KMSB-SVC-/);
  const probabilities = [...script.matchAll(/--probability (\S+)/g)].map((m) => Number(m[1]));
  assert.deepEqual(probabilities.slice(0, 2).map((p) => p.toFixed(4)), ['0.3333', '0.5000']);
  assert.match(script, /-A KMSB-SEP-\S+ -s 10\.244\.0\.2\/32 -j KMSB-MARK-MASQ/);
  assert.match(script, /-j DNAT --to-destination 10\.244\.0\.3:8080/);
  assert.match(script, /-p udp -m udp -j DNAT --to-destination 10\.244\.0\.2:5353/);
  assert.match(script, /\*filter\n:KMSB-SERVICES - \[0:0\]\n-A KMSB-SERVICES -d 10\.96\.0\.21\/32 -p tcp -m tcp --dport 81 .*-j REJECT --reject-with tcp-reset/);
  assert.match(script, /:KMSB-SVC-OLD - \[0:0\][\s\S]*-X KMSB-SVC-OLD/);
  assert.ok([...chains].every((c) => c.length <= 28 && c.startsWith('KMSB-')));
});
