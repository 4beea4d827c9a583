/**
 * scale_down: which workloads can be scaled, the record a session leaves on the workload, and the
 * JSON patches (RFC 6902) that take and release it. Pure and free of client-node, so the in-cluster
 * keeper (agent/scale-keeper.ts) applies exactly the patch the CLI does.
 *
 * The record is one annotation on the workload, `kubectl-mirrord/scaled-down-by`, holding JSON:
 * the session, the user, the replica count to restore, the copy's Job and when. It is written in
 * the same patch that sets `spec.replicas` to 0, guarded by a `test` of the resourceVersion, so two
 * sessions cannot both take a workload (the second patch fails its test, or sees the annotation).
 * The restore patch `test`s that the annotation still holds this session's record, so a keeper
 * that comes late never undoes a newer session's scale-down.
 */
import { UsageError } from '../errors.ts';
import type { TargetSpec } from './target-spec.ts';

export const SCALE_DOWN_ANNOTATION = 'kubectl-mirrord/scaled-down-by';

/** What the annotation holds. `status` reads it to show who holds a workload. */
export interface ScaleDownRecord {
  /** The copy's session id (the `kubectl-mirrord/session` label of the copy, keeper, ServiceAccount, Role). */
  session: string;
  user: string;
  /** spec.replicas before the scale-down: what a restore puts back. */
  replicas: number;
  /** The copy's Job, in the workload's namespace. */
  copyJob: string;
  /** The keeper's Job, in the workload's namespace. */
  keeperJob: string;
  /** ISO 8601, the CLI's clock. */
  since: string;
}

/** A workload scale_down can scale, as the API addresses it. */
export interface ScalableWorkload {
  /** `deployment/web`, for messages. */
  text: string;
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespace: string;
  name: string;
}

/** The workload's resource as RBAC and `kubectl auth can-i` name it: `deployments.apps`. */
export function resourceName(w: Pick<ScalableWorkload, 'group' | 'plural'>): string {
  return w.group === '' ? w.plural : `${w.plural}.${w.group}`;
}

const SCALABLE: Record<string, { group: string; version: string; plural: string; kind: string }> = {
  deployment: { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment' },
  statefulset: { group: 'apps', version: 'v1', plural: 'statefulsets', kind: 'StatefulSet' },
  replicaset: { group: 'apps', version: 'v1', plural: 'replicasets', kind: 'ReplicaSet' },
  rollout: { group: 'argoproj.io', version: 'v1alpha1', plural: 'rollouts', kind: 'Rollout' },
};

/** The target kinds scale_down can scale, as `--target` spells them. */
export const SCALABLE_KINDS = ['deployment', 'statefulset', 'replicaset', 'rollout'] as const;

/** The kind of a ReplicaSet's controller that scale_down scales instead (it would scale the ReplicaSet back). */
export function scalableOwnerKind(kind: string): string | undefined {
  return kind === 'Deployment' ? 'deployment' : kind === 'Rollout' ? 'rollout' : undefined;
}

/**
 * Refuses a target kind that has no replica count.
 * @param source how scale_down was asked for, for the message.
 * @throws UsageError ESCALEDOWN.
 */
export function checkScaleDownKind(target: TargetSpec, source: string): void {
  if (SCALABLE[target.kind]) return;
  throw new UsageError('ESCALEDOWN', `${source} cannot scale ${target.kind}/${target.name}: a ${target.kind} has no replica count`, {
    hint: target.kind === 'pod'
      ? 'target the pod\'s workload instead (deployment/NAME, statefulset/NAME, replicaset/NAME or rollout/NAME), or drop scale_down to copy the pod alone'
      : 'scale_down works on deployment, statefulset, replicaset and rollout targets; drop it to copy the target alone',
  });
}

/** The workload as the API addresses it. */
export function scalableWorkload(kind: string, namespace: string, name: string): ScalableWorkload {
  const info = SCALABLE[kind];
  if (!info) throw new Error(`not scalable: ${kind}`);
  return { ...info, text: `${kind}/${name}`, namespace, name };
}

/** `/apis/apps/v1/namespaces/default/deployments/web`. */
export function workloadPath(w: ScalableWorkload): string {
  return `/apis/${w.group}/${w.version}/namespaces/${w.namespace}/${w.plural}/${w.name}`;
}

/** A JSON Pointer token (RFC 6901 §3: `~` as `~0`, `/` as `~1`). */
function pointerToken(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

const ANNOTATION_PATH = `/metadata/annotations/${pointerToken(SCALE_DOWN_ANNOTATION)}`;

export function encodeRecord(record: ScaleDownRecord): string {
  return JSON.stringify(record);
}

/** The record on a workload, or undefined (none, or not ours to read). */
export function readRecord(annotations: Record<string, string> | undefined): ScaleDownRecord | undefined {
  const text = annotations?.[SCALE_DOWN_ANNOTATION];
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<ScaleDownRecord>;
    if (typeof value.session === 'string' && typeof value.replicas === 'number') {
      return { session: value.session, user: String(value.user ?? 'unknown'), replicas: value.replicas, copyJob: String(value.copyJob ?? ''), keeperJob: String(value.keeperJob ?? ''), since: String(value.since ?? '') };
    }
  } catch {
    // Fall through: a record nobody can read still holds the workload.
  }
  return { session: 'unknown', user: 'unknown', replicas: -1, copyJob: '', keeperJob: '', since: '' };
}

/** One RFC 6902 operation. */
export type JsonPatchOp = { op: 'test' | 'add' | 'replace'; path: string; value: unknown } | { op: 'remove'; path: string };

/**
 * Takes the workload: fails (the `test`) unless it is still at `resourceVersion`; records and sets
 * replicas 0 in one write.
 */
export function scaleDownPatch(resourceVersion: string, hasAnnotations: boolean, record: ScaleDownRecord): JsonPatchOp[] {
  return [
    { op: 'test', path: '/metadata/resourceVersion', value: resourceVersion },
    hasAnnotations
      ? { op: 'add', path: ANNOTATION_PATH, value: encodeRecord(record) }
      : { op: 'add', path: '/metadata/annotations', value: { [SCALE_DOWN_ANNOTATION]: encodeRecord(record) } },
    { op: 'replace', path: '/spec/replicas', value: 0 },
  ];
}

/** Gives the workload back: only if the annotation still holds exactly `encoded` (this session's record). */
export function restorePatch(encoded: string, replicas: number): JsonPatchOp[] {
  return [
    { op: 'test', path: ANNOTATION_PATH, value: encoded },
    { op: 'remove', path: ANNOTATION_PATH },
    { op: 'replace', path: '/spec/replicas', value: replicas },
  ];
}

/** `session 1a2b3c4d of bob since 2026-12-01T22:00:00Z (copy Job mirrord-copy-1a2b3c4d)`. */
export function describeHolder(record: ScaleDownRecord): string {
  const since = record.since ? ` since ${record.since}` : '';
  const copy = record.copyJob ? ` (copy Job ${record.copyJob})` : '';
  return `session ${record.session} of ${record.user}${since}${copy}`;
}
