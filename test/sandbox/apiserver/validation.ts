/**
 * The validation kube-apiserver does on create and update that tools meet in practice: names
 * (k8s.io/apimachinery/pkg/util/validation), the total size of annotations
 * (k8s.io/apimachinery/pkg/api/validation, objectmeta.go), required pod fields
 * (pkg/apis/core/validation).
 */
import { parseSchedule } from './cron-schedule.ts';
import { isDeepStrictEqual } from 'node:util';
import type { KObject } from '../contract.ts';
import type { ResourceInfo } from './resources.ts';
import { invalid, type FieldError } from './status.ts';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_MESSAGE = `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`;
const SUBDOMAIN_MESSAGE = `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`;
/** Services, namespaces and the container names inside pods are DNS labels; the rest subdomains. */
const LABEL_NAMED = new Set(['namespaces', 'services']);

function validateName(resource: ResourceInfo, name: string | undefined): FieldError[] {
  if (!name) return [{ type: 'FieldValueRequired', field: 'metadata.name', detail: 'Required value: name or generateName is required' }];
  const label = LABEL_NAMED.has(resource.plural);
  const ok = label ? DNS1123_LABEL.test(name) && name.length <= 63 : DNS1123_SUBDOMAIN.test(name) && name.length <= 253;
  if (ok) return [];
  return [{ type: 'FieldValueInvalid', field: 'metadata.name', detail: `Invalid value: "${name}": ${label ? LABEL_MESSAGE : SUBDOMAIN_MESSAGE}` }];
}

/**
 * kube-apiserver's limit on all of an object's annotations together, keys and values in bytes
 * (TotalAnnotationSizeLimitB). What a client-side `kubectl apply` of a large CRD meets: its
 * last-applied-configuration annotation holds the whole object.
 */
export const TOTAL_ANNOTATION_BYTES = 256 * 1024;

function validateAnnotationsSize(annotations: unknown): FieldError[] {
  if (!annotations || typeof annotations !== 'object') return [];
  let total = 0;
  for (const [k, v] of Object.entries(annotations)) total += Buffer.byteLength(k) + Buffer.byteLength(String(v));
  if (total <= TOTAL_ANNOTATION_BYTES) return [];
  return [{ type: 'FieldValueTooLong', field: 'metadata.annotations', detail: `Too long: must have at most ${TOTAL_ANNOTATION_BYTES} bytes` }];
}

function validateContainers(field: string, containers: unknown, required: boolean): FieldError[] {
  if (!Array.isArray(containers) || containers.length === 0) {
    return required ? [{ type: 'FieldValueRequired', field, detail: 'Required value' }] : [];
  }
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  containers.forEach((c: { name?: string; image?: string }, i) => {
    const at = `${field}[${i}]`;
    if (!c.name) errors.push({ type: 'FieldValueRequired', field: `${at}.name`, detail: 'Required value' });
    else if (!DNS1123_LABEL.test(c.name)) errors.push({ type: 'FieldValueInvalid', field: `${at}.name`, detail: `Invalid value: "${c.name}": ${LABEL_MESSAGE}` });
    else if (seen.has(c.name)) errors.push({ type: 'FieldValueDuplicate', field: `${at}.name`, detail: `Duplicate value: "${c.name}"` });
    if (c.name) seen.add(c.name);
    if (!c.image) errors.push({ type: 'FieldValueRequired', field: `${at}.image`, detail: 'Required value' });
  });
  return errors;
}

/** Pod spec checks, also used for the templates of workloads (`prefix` = `spec.template.spec`). */
export function validatePodSpec(spec: any, prefix: string): FieldError[] {
  if (!spec || typeof spec !== 'object') return [{ type: 'FieldValueRequired', field: prefix, detail: 'Required value' }];
  return [
    ...validateContainers(`${prefix}.containers`, spec.containers, true),
    ...validateContainers(`${prefix}.initContainers`, spec.initContainers, false),
    ...validateContainers(`${prefix}.ephemeralContainers`, spec.ephemeralContainers, false),
  ];
}

const TEMPLATED = new Set(['deployments', 'replicasets', 'statefulsets', 'daemonsets', 'jobs']);

/** Throws ApiError 422 Invalid listing every problem found, as upstream aggregates them. */
export function validateObject(resource: ResourceInfo, obj: KObject): void {
  const errors = [...validateName(resource, obj.metadata.name), ...validateAnnotationsSize(obj.metadata.annotations)];
  if (resource.plural === 'pods') errors.push(...validatePodSpec(obj.spec, 'spec'));
  if (TEMPLATED.has(resource.plural)) {
    errors.push(...validatePodSpec(obj.spec?.template?.spec, 'spec.template.spec'));
    if (resource.plural !== 'jobs' && !obj.spec?.selector) {
      errors.push({ type: 'FieldValueRequired', field: 'spec.selector', detail: 'Required value' });
    }
  }
  if (resource.plural === 'jobs') {
    const policy = obj.spec?.template?.spec?.restartPolicy ?? 'Always';
    if (policy !== 'OnFailure' && policy !== 'Never') {
      errors.push({ type: 'FieldValueNotSupported', field: 'spec.template.spec.restartPolicy', detail: `Unsupported value: "${policy}": supported values: "OnFailure", "Never"` });
    }
  }
  if (resource.plural === 'cronjobs') {
    if (!obj.spec?.schedule) errors.push({ type: 'FieldValueRequired', field: 'spec.schedule', detail: 'Required value' });
    else if (!parseSchedule(obj.spec.schedule)) errors.push({ type: 'FieldValueInvalid', field: 'spec.schedule', detail: `Invalid value: "${obj.spec.schedule}": unparseable schedule` });
    errors.push(...validatePodSpec(obj.spec?.jobTemplate?.spec?.template?.spec, 'spec.jobTemplate.spec.template.spec'));
  }
  if (resource.plural === 'services') {
    (obj.spec?.ports ?? []).forEach((p: { port?: number }, i: number) => {
      if (!p.port) errors.push({ type: 'FieldValueRequired', field: `spec.ports[${i}].port`, detail: 'Required value' });
    });
  }
  if (errors.length > 0) throw invalid(resource.kind, obj.metadata.name ?? '', errors, resource.group);
}

const POD_UPDATE_MESSAGE = 'Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)';

/**
 * A pod's spec is immutable but for images, activeDeadlineSeconds and added tolerations
 * (pkg/apis/core/validation ValidatePodUpdate). Both specs must be defaulted. Throws ApiError 422.
 */
export function validatePodUpdate(oldPod: KObject, newPod: KObject): void {
  const mutable = structuredClone(newPod.spec ?? {});
  const images = (list: any[] | undefined, from: any[] | undefined): void => {
    (list ?? []).forEach((c, i) => {
      if (from?.[i]) c.image = from[i].image;
    });
  };
  images(mutable.containers, oldPod.spec?.containers);
  images(mutable.initContainers, oldPod.spec?.initContainers);
  mutable.activeDeadlineSeconds = oldPod.spec?.activeDeadlineSeconds;
  mutable.tolerations = oldPod.spec?.tolerations;
  const clean = (v: unknown): unknown => JSON.parse(JSON.stringify(v ?? {}));
  if (!isDeepStrictEqual(clean(mutable), clean(oldPod.spec))) {
    throw invalid('Pod', newPod.metadata.name, [{ type: 'FieldValueForbidden', field: 'spec', detail: POD_UPDATE_MESSAGE }]);
  }
}
