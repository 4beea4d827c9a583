import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MirrordError } from '../errors.ts';
import { applyJsonPatch } from '../../test/support/scale-down-fakes.ts';
import { checkScaleDownKind, describeHolder, encodeRecord, readRecord, restorePatch, scalableOwnerKind, scalableWorkload, scaleDownPatch, workloadPath, SCALE_DOWN_ANNOTATION } from './scale-down.ts';
import { parseTarget } from './target-spec.ts';

const record = { session: 'ab12', user: 'bob', replicas: 3, copyJob: 'mirrord-copy-ab12', keeperJob: 'mirrord-keeper-ab12', since: '2026-12-01T22:00:00Z' };

test('scale_down refuses kinds without a replica count, naming the target and what works', () => {
  for (const t of ['deployment/web', 'statefulset/db', 'replicaset/web-1']) checkScaleDownKind(parseTarget(t), '--scale-down');
  assert.throws(() => checkScaleDownKind(parseTarget('pod/web-1'), '--scale-down'), (e: unknown) => e instanceof MirrordError && e.exitCode === 2 && e.code === 'ESCALEDOWN' && /cannot scale pod\/web-1/.test(e.message) && /workload/.test(e.hint ?? ''));
  assert.throws(() => checkScaleDownKind(parseTarget('job/batch'), 'feature.copy_target.scale_down'), /feature.copy_target.scale_down cannot scale job\/batch/);
});

test('a ReplicaSet owned by a Deployment or Rollout scales its owner', () => {
  assert.equal(scalableOwnerKind('Deployment'), 'deployment');
  assert.equal(scalableOwnerKind('Rollout'), 'rollout');
  assert.equal(scalableOwnerKind('Something'), undefined);
  assert.equal(workloadPath(scalableWorkload('rollout', 'shop', 'web')), '/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts/web');
});

test('take then restore: the annotation records the count; the restore puts it back and removes it', () => {
  const deployment = { metadata: { resourceVersion: '7', annotations: { other: 'x' } }, spec: { replicas: 3 } };
  const taken = applyJsonPatch(deployment, scaleDownPatch('7', true, record));
  assert.equal(taken.spec.replicas, 0);
  assert.equal(taken.metadata.annotations.other, 'x');
  assert.deepEqual(readRecord(taken.metadata.annotations), record);
  const restored = applyJsonPatch(taken, restorePatch(taken.metadata.annotations[SCALE_DOWN_ANNOTATION], 3));
  assert.equal(restored.spec.replicas, 3);
  assert.deepEqual(restored.metadata.annotations, { other: 'x' });
});

test('a workload without annotations gets the annotations object; a stale resourceVersion fails the patch', () => {
  const bare = { metadata: { resourceVersion: '7' }, spec: { replicas: 2 } };
  assert.deepEqual(readRecord(applyJsonPatch(bare, scaleDownPatch('7', false, record)).metadata.annotations), record);
  assert.throws(() => applyJsonPatch(bare, scaleDownPatch('6', false, record)), /test failed/);
});

test("a restore never undoes another session's scale-down", () => {
  const other = { ...record, session: 'cd34' };
  const held = { metadata: { annotations: { [SCALE_DOWN_ANNOTATION]: encodeRecord(other) } }, spec: { replicas: 0 } };
  assert.throws(() => applyJsonPatch(held, restorePatch(encodeRecord(record), 3)), /test failed/);
});

test('the holder is named; an unreadable record still holds the workload', () => {
  assert.equal(describeHolder(record), 'session ab12 of bob since 2026-12-01T22:00:00Z (copy Job mirrord-copy-ab12)');
  assert.equal(readRecord({ [SCALE_DOWN_ANNOTATION]: 'garbage' })?.session, 'unknown');
  assert.equal(readRecord({}), undefined);
});

test('autoscalers of the workload are noted; the manager that last wrote spec.replicas is named', async () => {
  const { autoscalerNotes, replicasManager } = await import('./scale-down-session.ts');
  const w = scalableWorkload('deployment', 'shop', 'web');
  const hpa = (name: string, kind: string, target: string, apiVersion = 'apps/v1') => ({ metadata: { name }, spec: { scaleTargetRef: { kind, name: target, apiVersion }, minReplicas: 2, maxReplicas: 5 } });
  const notes = autoscalerNotes([hpa('web', 'Deployment', 'web'), hpa('other', 'Deployment', 'api'), hpa('sts', 'StatefulSet', 'web')], w);
  assert.deepEqual(notes, ['HorizontalPodAutoscaler web (min 2, max 5) also scales deployment/web; an HPA stops adjusting a workload at 0 replicas and resumes once its count is restored']);
  assert.equal(replicasManager([
    { manager: 'kubectl-client-side-apply', time: '2026-12-01T10:00:00Z', fieldsV1: { 'f:spec': { 'f:replicas': {}, 'f:template': {} } } },
    { manager: 'argocd-controller', time: '2026-12-01T11:00:00Z', fieldsV1: { 'f:spec': { 'f:replicas': {} } } },
    { manager: 'kube-controller-manager', time: '2026-12-01T12:00:00Z', fieldsV1: { 'f:status': { 'f:replicas': {} } } },
  ]), 'argocd-controller');
  assert.equal(replicasManager(undefined), undefined);
});
