/**
 * The write paths of the API: create, update, patch and delete with the defaulting, validation,
 * admission and deletion semantics of kube-apiserver's generic registry. The HTTP layer and the
 * controllers both go through here, so a controller-made pod meets the same admission as a user's.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { KObject } from '../contract.ts';
import { admitServiceAccount } from './service-accounts.ts';
import { defaultCronJob, defaultPod, defaultPodSpec, defaultService, defaultWorkload } from './defaults.ts';
import { applyPatch } from './patch.ts';
import { enforcePodSecurity } from './pod-security.ts';
import { apiVersionOf, type ResourceInfo } from './resources.ts';
import { alreadyExists, ApiError, badRequest, conflict, forbidden, notFound } from './status.ts';
import type { ObjectStore } from './store.ts';
import { validateObject, validatePodUpdate } from './validation.ts';

const WORKLOADS = new Set(['deployments', 'replicasets', 'statefulsets', 'daemonsets', 'jobs']);
/** batch/v1 Jobs orphan their pods by default (pkg/registry/batch/job/strategy.go DefaultGarbageCollectionPolicy). */
const ORPHAN_BY_DEFAULT = new Set(['jobs']);
/** Letters Kubernetes uses for generateName suffixes (k8s.io/apimachinery/pkg/util/rand). */
const ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

/** The options of a DELETE (query parameters or a DeleteOptions body). */
export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
  preconditions?: { uid?: string; resourceVersion?: string };
}

/** A Secret's write-only `stringData` is folded into base64 `data` (pkg/apis/core/v1/conversion.go). */
function foldStringData(secret: KObject): void {
  const stringData = secret.stringData as Record<string, string> | undefined;
  if (!stringData) return;
  const data = { ...((secret.data as Record<string, string> | undefined) ?? {}) };
  for (const [key, value] of Object.entries(stringData)) data[key] = Buffer.from(String(value)).toString('base64');
  secret.data = data;
  delete secret.stringData;
}

function randomSuffix(): string {
  return [...randomBytes(5)].map((b) => ALPHANUMS[b % ALPHANUMS.length]).join('');
}

function nowIso(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Create/update/patch/delete over an ObjectStore with kube-apiserver's semantics. */
export class Registry {
  readonly store: ObjectStore;

  constructor(store: ObjectStore) {
    this.store = store;
  }

  /** POST: validates, defaults, admits and stores `input` (or only returns it, with `dryRun`). Throws ApiError. */
  create(r: ResourceInfo, namespace: string | undefined, input: KObject, dryRun = false): KObject {
    if (!input || typeof input !== 'object') throw badRequest('the body of the request was in an unknown format');
    const obj = structuredClone(input);
    obj.apiVersion = apiVersionOf(r);
    obj.kind = r.kind;
    obj.metadata ??= {} as KObject['metadata'];
    const meta = obj.metadata;
    if (r.namespaced) {
      if (meta.namespace && namespace && meta.namespace !== namespace) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      meta.namespace = namespace ?? meta.namespace ?? 'default';
      this.checkNamespaceWritable(meta.namespace);
    } else {
      delete meta.namespace;
    }
    if (!meta.name && typeof meta.generateName === 'string') meta.name = `${meta.generateName}${randomSuffix()}`;
    delete (meta as Partial<KObject["metadata"]>).resourceVersion;
    delete meta.deletionTimestamp;
    meta.uid = randomUUID();
    validateObject(r, obj);
    if (r.plural === 'secrets') foldStringData(obj);
    this.applyDefaults(r, obj);
    if (r.plural === 'pods') {
      admitServiceAccount(this.store, obj);
      enforcePodSecurity(this.store.get('namespaces', undefined, meta.namespace!), obj);
    }
    if (!dryRun) return this.store.create(r.plural, obj);
    if (this.store.get(r.plural, meta.namespace, meta.name)) throw alreadyExists(r.plural, meta.name, r.group);
    meta.creationTimestamp = nowIso();
    return obj;
  }

  /** PUT of the main resource or of `status`/`ephemeralcontainers`. Throws ApiError. */
  update(r: ResourceInfo, namespace: string | undefined, name: string, input: KObject, subresource?: string, dryRun = false): KObject {
    const old = this.store.get(r.plural, namespace, name);
    if (!old) throw notFound(r.plural, name, r.group);
    if (!input?.metadata) throw badRequest('the body of the request was in an unknown format');
    if (input.metadata.name && input.metadata.name !== name) {
      throw badRequest(`the name of the object (${input.metadata.name}) does not match the name on the URL (${name})`);
    }
    // The resourceVersion precondition is checked before validation, as GuaranteedUpdate does.
    if (input.metadata.resourceVersion && input.metadata.resourceVersion !== old.metadata.resourceVersion) throw conflict(r.plural, name, r.group);
    const obj = this.merged(r, old, structuredClone(input), subresource);
    obj.metadata.name = name;
    if (r.namespaced) obj.metadata.namespace = namespace;
    validateObject(r, obj);
    if (r.plural === 'secrets') foldStringData(obj);
    if (r.plural === 'pods' && !subresource) {
      defaultPodSpec(obj.spec);
      validatePodUpdate(old, obj);
    }
    if (r.plural === 'pods' && subresource === 'ephemeralcontainers') {
      for (const c of obj.spec.ephemeralContainers ?? []) {
        c.terminationMessagePath ??= '/dev/termination-log';
        c.terminationMessagePolicy ??= 'File';
        c.imagePullPolicy ??= 'IfNotPresent';
      }
      enforcePodSecurity(this.store.get('namespaces', undefined, namespace!), obj);
    }
    if (!dryRun) return this.store.update(r.plural, obj);
    obj.metadata.resourceVersion = old.metadata.resourceVersion;
    return obj;
  }

  /** PATCH with the body's content type; then as PUT without a resourceVersion precondition. */
  patch(r: ResourceInfo, namespace: string | undefined, name: string, contentType: string, body: unknown, subresource?: string, dryRun = false): KObject {
    const old = this.store.get(r.plural, namespace, name);
    if (!old) throw notFound(r.plural, name, r.group);
    const patched = applyPatch(contentType, old, body) as KObject;
    if (!patched?.metadata) throw badRequest('the patch removed metadata');
    if (patched.metadata.resourceVersion === old.metadata.resourceVersion) delete (patched.metadata as Partial<KObject['metadata']>).resourceVersion;
    return this.update(r, namespace, name, patched, subresource, dryRun);
  }

  /**
   * Server-side apply (`application/apply-patch+yaml`, JSON body), approximated: creates the object
   * when missing, else merges it in as a strategic merge patch. Field ownership is not tracked, so
   * fields dropped from the applied configuration are kept rather than removed.
   */
  apply(r: ResourceInfo, namespace: string | undefined, name: string, body: KObject, dryRun = false): { obj: KObject; created: boolean } {
    if (!body?.metadata) throw badRequest('the applied configuration must be an object with metadata');
    if (body.metadata.name && body.metadata.name !== name) {
      throw badRequest(`the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`);
    }
    if (!this.store.get(r.plural, namespace, name)) {
      return { obj: this.create(r, namespace, { ...body, metadata: { ...body.metadata, name } }, dryRun), created: true };
    }
    const { apiVersion: _v, kind: _k, ...rest } = body;
    return { obj: this.patch(r, namespace, name, 'application/strategic-merge-patch+json', rest, undefined, dryRun), created: false };
  }

  /**
   * DELETE. Pods on the node and namespaces get a deletionTimestamp and are removed later (by the
   * node, by the namespace controller); Foreground deletion marks the owner and lets the garbage
   * collector remove dependents first. Returns the object still present, or undefined once removed.
   */
  delete(r: ResourceInfo, namespace: string | undefined, name: string, opts: DeleteOptions, dryRun = false): KObject | undefined {
    const obj = this.store.get(r.plural, namespace, name);
    if (!obj) throw notFound(r.plural, name, r.group);
    if (dryRun) return obj;
    if (opts.preconditions?.uid && opts.preconditions.uid !== obj.metadata.uid) {
      throw new ApiError(409, 'Conflict', `Precondition failed: UID in precondition: ${opts.preconditions.uid}, UID in object meta: ${obj.metadata.uid}`);
    }
    if (r.plural === 'pods' && obj.spec?.nodeName) return this.deletePodGracefully(obj, opts);
    if (r.plural === 'namespaces') return this.markTerminating(obj);
    const policy = opts.propagationPolicy ?? (ORPHAN_BY_DEFAULT.has(r.plural) ? 'Orphan' : 'Background');
    if (policy === 'Orphan') this.orphanDependents(obj);
    if (policy === 'Foreground') {
      const finalizers = new Set([...((obj.metadata.finalizers as string[] | undefined) ?? []), 'foregroundDeletion']);
      obj.metadata.finalizers = [...finalizers];
      obj.metadata.deletionTimestamp ??= nowIso();
      obj.metadata.deletionGracePeriodSeconds = 0;
      return this.store.update(r.plural, obj);
    }
    this.store.remove(r.plural, namespace, name);
    return undefined;
  }

  private deletePodGracefully(pod: KObject, opts: DeleteOptions): KObject {
    const grace = opts.gracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
    const current = pod.metadata.deletionGracePeriodSeconds as number | undefined;
    if (pod.metadata.deletionTimestamp && current !== undefined && current <= grace) return pod;
    pod.metadata.deletionTimestamp = new Date(Date.now() + grace * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    pod.metadata.deletionGracePeriodSeconds = grace;
    return this.store.update('pods', pod);
  }

  private markTerminating(ns: KObject): KObject {
    if (ns.metadata.deletionTimestamp) return ns;
    ns.metadata.deletionTimestamp = nowIso();
    ns.spec = { finalizers: ['kubernetes'] };
    ns.status = { ...(ns.status ?? {}), phase: 'Terminating' };
    return this.store.update('namespaces', ns);
  }

  private orphanDependents(owner: KObject): void {
    for (const plural of ['pods', 'replicasets', 'jobs']) {
      for (const dep of this.store.list(plural, owner.metadata.namespace)) {
        const refs = dep.metadata.ownerReferences ?? [];
        if (!refs.some((ref) => ref.uid === owner.metadata.uid)) continue;
        dep.metadata.ownerReferences = refs.filter((ref) => ref.uid !== owner.metadata.uid);
        if (dep.metadata.ownerReferences.length === 0) delete dep.metadata.ownerReferences;
        this.store.update(plural, dep);
      }
    }
  }

  /** Upstream's 404 for objects in a namespace that does not exist, 403 while it terminates. */
  private checkNamespaceWritable(namespace: string): void {
    const ns = this.store.get('namespaces', undefined, namespace);
    if (!ns) throw notFound('namespaces', namespace);
    if (ns.metadata.deletionTimestamp) {
      throw forbidden(`unable to create new content in namespace ${namespace} because it is being terminated`, namespace, 'namespaces');
    }
  }

  private applyDefaults(r: ResourceInfo, obj: KObject): void {
    if (r.plural === 'pods') defaultPod(obj);
    else if (r.plural === 'services') {
      const used = new Set(this.store.list('services').map((s) => s.spec?.clusterIP as string));
      defaultService(obj, used);
    } else if (WORKLOADS.has(r.plural)) defaultWorkload(r.plural, obj);
    else if (r.plural === 'cronjobs') defaultCronJob(obj);
    else if (r.plural === 'namespaces') {
      obj.spec = { finalizers: ['kubernetes'] };
      obj.status = { phase: 'Active' };
      obj.metadata.labels = { ...(obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': obj.metadata.name };
    } else if (r.plural === 'secrets') obj.type ??= 'Opaque';
  }

  /**
   * What a PUT stores: main-resource writes keep the old status, status writes keep the old spec and
   * metadata, ephemeralcontainers writes change only spec.ephemeralContainers.
   */
  private merged(r: ResourceInfo, old: KObject, input: KObject, subresource: string | undefined): KObject {
    input.apiVersion = old.apiVersion;
    input.kind = old.kind;
    if (subresource === 'status') return { ...old, metadata: { ...old.metadata, resourceVersion: input.metadata.resourceVersion ?? '' }, status: input.status };
    if (subresource === 'ephemeralcontainers') {
      const spec = { ...old.spec, ephemeralContainers: input.spec?.ephemeralContainers ?? [] };
      return { ...old, metadata: { ...old.metadata, resourceVersion: input.metadata.resourceVersion ?? '' }, spec };
    }
    if (r.hasStatus) input.status = old.status;
    if (r.plural === 'pods') input.spec = { ...input.spec, nodeName: old.spec?.nodeName, ephemeralContainers: old.spec?.ephemeralContainers };
    if (r.plural === 'services' && old.spec?.clusterIP) input.spec = { ...input.spec, clusterIP: old.spec.clusterIP, clusterIPs: old.spec.clusterIPs };
    if (r.plural === 'jobs') input.spec = { ...input.spec, selector: old.spec.selector };
    if (r.plural === 'namespaces' && old.metadata.deletionTimestamp) input.metadata.deletionTimestamp = old.metadata.deletionTimestamp;
    input.metadata = { ...input.metadata, uid: old.metadata.uid, creationTimestamp: old.metadata.creationTimestamp };
    if (old.metadata.deletionTimestamp) {
      input.metadata.deletionTimestamp = old.metadata.deletionTimestamp;
      input.metadata.deletionGracePeriodSeconds = old.metadata.deletionGracePeriodSeconds;
    }
    if (!input.metadata.resourceVersion) input.metadata.resourceVersion = '';
    return input;
  }
}
