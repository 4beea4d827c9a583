/**
 * CustomResourceDefinitions as the sandbox serves them: the scale subresource at the paths the CRD
 * declares, `additionalPrinterColumns` in the Table kubectl asks for, and the annotation size limit
 * that refuses a client-side apply of a large CRD. The JSON paths those use are tested on their own.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { ApiException, ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { parsePath, readPath, writePath } from './jsonpath.ts';
import { eventually, startTestServer, type TestServer } from './test-server.test-support.ts';

let ts: TestServer;

before(async () => {
  ts = await startTestServer(50);
});
after(async () => ts.close());

test('JSON paths: fields, indexes and quoted names; a missing step reads undefined; writes make the way', () => {
  const obj = { metadata: { labels: { 'app.kubernetes.io/name': 'w' } }, status: { conditions: [{ type: 'Ready' }] } };
  assert.deepEqual(parsePath(".status.conditions[0].type"), ['status', 'conditions', 0, 'type']);
  assert.equal(readPath(obj, '.status.conditions[0].type'), 'Ready');
  assert.equal(readPath(obj, ".metadata.labels['app.kubernetes.io/name']"), 'w');
  assert.equal(readPath(obj, '.spec.replicas'), undefined);
  assert.equal(readPath(obj, '.status.conditions[3].type'), undefined);
  assert.deepEqual(writePath({ a: 1 }, '.spec.replicas', 3), { a: 1, spec: { replicas: 3 } });
  assert.throws(() => parsePath('spec.replicas'), /unsupported JSON path "spec\.replicas"/);
  assert.throws(() => parsePath('.items[*].name'), /unsupported JSON path/);
});

function rawRequest(method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, ts.api.url), { method, ca: ts.ca, headers: { Authorization: `Bearer ${ts.tokens.admin}`, ...headers } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) }));
    });
    req.on('error', reject);
    req.end();
  });
}

const WIDGETS = { group: 'example.com', version: 'v1', plural: 'widgets' };

test('a CRD\'s scale paths and printer columns: /scale reads and writes them, the Table evaluates each column', async () => {
  const ext = ts.kc.makeApiClient(ApiextensionsV1Api);
  await ext.createCustomResourceDefinition({
    body: {
      metadata: { name: 'widgets.example.com' },
      spec: {
        group: 'example.com', scope: 'Namespaced', names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
        versions: [{
          name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } },
          subresources: { status: {}, scale: { specReplicasPath: '.spec.size', statusReplicasPath: '.status.count', labelSelectorPath: '.status.sel' } },
          additionalPrinterColumns: [
            { name: 'Size', type: 'integer', jsonPath: '.spec.size' },
            { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
            { name: 'Ratio', type: 'integer', jsonPath: '.spec.ratio', priority: 1 },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
        }],
      },
    },
  });
  const objects = ts.kc.makeApiClient(CustomObjectsApi);
  await eventually(async () => (await rawRequest('GET', '/apis/example.com/v1')).status === 200);
  await objects.createNamespacedCustomObject({ ...WIDGETS, namespace: 'default', body: { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w1' }, spec: { size: 3, ratio: 1.5 } } });
  await objects.patchNamespacedCustomObjectStatus({ ...WIDGETS, namespace: 'default', name: 'w1', body: { status: { count: 2, sel: 'app=w', phase: 'Up' } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));

  const scale = (await rawRequest('GET', '/apis/example.com/v1/namespaces/default/widgets/w1/scale')).body;
  assert.deepEqual([scale.kind, scale.spec.replicas, scale.status.replicas, scale.status.selector], ['Scale', 3, 2, 'app=w']);
  await objects.patchNamespacedCustomObjectScale({ ...WIDGETS, namespace: 'default', name: 'w1', body: { spec: { replicas: 5 } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  const w1 = await objects.getNamespacedCustomObject({ ...WIDGETS, namespace: 'default', name: 'w1' }) as any;
  assert.equal(w1.spec.size, 5, 'the scale wrote specReplicasPath');
  assert.equal(w1.spec.replicas, undefined, 'and nothing else');
  assert.equal(w1.status.count, 2, 'the status stays');

  const table = (await rawRequest('GET', '/apis/example.com/v1/namespaces/default/widgets', { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' })).body;
  assert.equal(table.kind, 'Table');
  assert.deepEqual(table.columnDefinitions.map((c: any) => [c.name, c.type, c.priority]), [['Name', 'string', 0], ['Size', 'integer', 0], ['Phase', 'string', 0], ['Ratio', 'integer', 1], ['Age', 'date', 0]]);
  const [cells] = table.rows.map((r: any) => r.cells);
  assert.deepEqual(cells.slice(0, 4), ['w1', 5, 'Up', null], 'a non-integer under an integer column is no cell, as in kube-apiserver');
  assert.match(cells[4], /^\d+s$/, 'a date is printed as an age');
});

test('annotations over 256 KiB in total are refused with kube-apiserver\'s message; up to the limit is fine', async () => {
  const core = ts.kc.makeApiClient(CoreV1Api);
  const key = 'kubectl.kubernetes.io/last-applied-configuration';
  const fits = 256 * 1024 - key.length;
  await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'at-limit', annotations: { [key]: 'x'.repeat(fits) } } } });
  await assert.rejects(core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'over', annotations: { [key]: 'x'.repeat(fits + 1) } } } }), (err: unknown) => {
    assert.ok(err instanceof ApiException);
    assert.equal(err.code, 422);
    const status = JSON.parse(err.body as string);
    assert.equal(status.message, 'ConfigMap "over" is invalid: metadata.annotations: Too long: must have at most 262144 bytes');
    return true;
  });
  await assert.rejects(core.patchNamespacedConfigMap({ name: 'at-limit', namespace: 'default', body: { metadata: { annotations: { more: 'y' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)), (err: unknown) => (err as ApiException<unknown>).code === 422, 'an update past the limit too');
});
