import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { eventually, startTestServer, type TestServer } from './test-server.test-support.ts';
import { resourceByPlural } from './resources.ts';
import type { KObject } from '../contract.ts';

let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server.close();
});

function create(plural: string, namespace: string | undefined, obj: Record<string, unknown>): KObject {
  return server.api.registry.create(resourceByPlural(plural)!, namespace, obj as unknown as KObject);
}

function get(path: string, token: string): Promise<{ status: number; body: any }> {
  const url = new URL(path, server.api.url);
  return new Promise((resolve, reject) => {
    request({ host: url.hostname, port: url.port, path: url.pathname, ca: server.ca, headers: { Authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    }).on('error', reject).end();
  });
}

const pod = (name: string, spec: Record<string, unknown> = {}) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'c', image: 'busybox' }], ...spec } });

test('admission mounts kube-api-access unless automount is off; a missing ServiceAccount is refused', async () => {
  await eventually(() => server.api.store.get('serviceaccounts', 'default', 'default'));
  const mounted = create('pods', 'default', pod('p1'));
  const volume = mounted.spec.volumes.find((v: any) => v.name.startsWith('kube-api-access-'));
  assert.ok(volume, 'the projected token volume is added');
  assert.deepEqual(volume.projected.sources.map((s: any) => Object.keys(s)[0]), ['serviceAccountToken', 'configMap', 'downwardAPI']);
  assert.deepEqual(mounted.spec.containers[0].volumeMounts, [{ name: volume.name, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }]);
  const off = create('pods', 'default', pod('p2', { automountServiceAccountToken: false }));
  assert.equal(off.spec.volumes, undefined);
  assert.throws(() => create('pods', 'default', pod('p3', { serviceAccountName: 'nobody' })), /error looking up service account default\/nobody: serviceaccount "nobody" not found/);
  await eventually(() => (server.api.store.get('configmaps', 'default', 'kube-root-ca.crt') as any)?.data?.['ca.crt'] === server.ca.toString('utf8'));
});

test('a ServiceAccount token may do what its Role grants, on the named objects only, while its pod exists', async () => {
  create('serviceaccounts', 'default', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'keeper' } });
  create('roles', 'default', { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'keeper' }, rules: [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'patch'], resourceNames: ['web'] }] });
  create('rolebindings', 'default', { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'keeper' }, subjects: [{ kind: 'ServiceAccount', name: 'keeper', namespace: 'default' }], roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'keeper' } });
  for (const name of ['web', 'other']) {
    create('deployments', 'default', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name }, spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } } });
  }
  const keeperPod = create('pods', 'default', pod('keeper-pod', { serviceAccountName: 'keeper' }));
  const token = server.api.serviceAccountTokens.serviceAccountToken(keeperPod, 600);
  assert.equal((await get('/apis/apps/v1/namespaces/default/deployments/web', token)).status, 200);
  const other = await get('/apis/apps/v1/namespaces/default/deployments/other', token);
  assert.equal(other.status, 403);
  assert.equal(other.body.message, 'deployments.apps "other" is forbidden: User "system:serviceaccount:default:keeper" cannot get resource "deployments" in API group "apps" in the namespace "default"');
  assert.equal((await get('/apis/apps/v1/namespaces/default/deployments', token)).status, 403, 'resourceNames never grants a list');
  assert.equal((await get('/api/v1/namespaces/default/pods/keeper-pod', token)).status, 403, 'nothing the Role does not name');
  assert.equal((await get('/apis/apps/v1/namespaces/default/deployments/web', `${token}x`)).status, 401, 'a tampered token is refused');
  server.api.store.remove('pods', 'default', 'keeper-pod');
  assert.equal((await get('/apis/apps/v1/namespaces/default/deployments/web', token)).status, 401, 'a bound token dies with its pod');
});
