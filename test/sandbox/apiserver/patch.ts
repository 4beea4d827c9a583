/**
 * The three PATCH formats kube-apiserver accepts: JSON merge patch (RFC 7386), JSON patch (RFC 6902)
 * and strategic merge patch (k8s.io/apimachinery/pkg/util/strategicpatch), the last with the merge
 * keys of the core types the sandbox serves, which is what `kubectl apply`, `kubectl debug` and
 * client-node send.
 */
import { badRequest, ApiError } from './status.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386: objects merge recursively, null deletes, anything else (arrays included) replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: JsonObject = isObject(target) ? structuredClone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value) as Json;
  }
  return out;
}

function decodePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw badRequest(`invalid JSON pointer "${pointer}": must start with "/"`);
  return pointer.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: Json, path: string[]): { parent: JsonObject | Json[]; key: string } {
  let cur: Json = doc;
  for (const part of path.slice(0, -1)) {
    const next: Json | undefined = Array.isArray(cur) ? cur[Number(part)] : isObject(cur) ? cur[part] : undefined;
    if (next === undefined) throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: path /${path.join('/')} does not exist`);
    cur = next;
  }
  if (!Array.isArray(cur) && !isObject(cur)) throw badRequest(`path /${path.join('/')} does not point into an object or array`);
  return { parent: cur, key: path[path.length - 1] };
}

function readAt(doc: Json, path: string[]): Json {
  if (path.length === 0) return doc;
  const { parent, key } = parentOf(doc, path);
  const value = Array.isArray(parent) ? parent[Number(key)] : parent[key];
  if (value === undefined) throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: missing value at /${path.join('/')}`);
  return value;
}

function removeAt(doc: Json, path: string[]): Json {
  const value = readAt(doc, path);
  const { parent, key } = parentOf(doc, path);
  if (Array.isArray(parent)) parent.splice(Number(key), 1);
  else delete parent[key];
  return value;
}

function addAt(doc: Json, path: string[], value: Json, replace: boolean): Json {
  if (path.length === 0) return value;
  const { parent, key } = parentOf(doc, path);
  if (Array.isArray(parent)) {
    const index = key === '-' ? parent.length : Number(key);
    if (!Number.isInteger(index) || index < 0 || index > parent.length) throw badRequest(`array index ${key} out of range`);
    if (replace) parent[index] = value;
    else parent.splice(index, 0, value);
  } else {
    if (replace && !(key in parent)) throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: replace operation does not apply: doc is missing key: /${path.join('/')}`);
    parent[key] = value;
  }
  return doc;
}

/** RFC 6902 operations applied in order; an op that cannot apply fails the whole patch. */
export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest('json patch must be a JSON array of operations');
  let doc = structuredClone(target) as Json;
  for (const op of ops as JsonObject[]) {
    const path = decodePointer(String(op.path ?? ''));
    switch (op.op) {
      case 'add': doc = addAt(doc, path, structuredClone(op.value), false); break;
      case 'replace': readAt(doc, path); doc = addAt(doc, path, structuredClone(op.value), true); break;
      case 'remove': removeAt(doc, path); break;
      case 'move': doc = addAt(doc, path, removeAt(doc, decodePointer(String(op.from))), false); break;
      case 'copy': doc = addAt(doc, path, structuredClone(readAt(doc, decodePointer(String(op.from)))), false); break;
      case 'test':
        if (JSON.stringify(readAt(doc, path)) !== JSON.stringify(op.value)) {
          throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: testing value /${path.join('/')} failed`);
        }
        break;
      default: throw badRequest(`Unexpected kind: ${String(op.op)}`);
    }
  }
  return doc;
}

/**
 * Merge keys of the lists whose Go field carries `patchStrategy:"merge"` in k8s.io/api. Keyed by the
 * field name; `ports` is keyed by containerPort in containers and by port in a Service.
 */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  env: 'name',
  imagePullSecrets: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  conditions: 'type',
  ownerReferences: 'uid',
  hostAliases: 'ip',
  topologySpreadConstraints: 'topologyKey',
};
/** Lists of scalars merged as sets (`patchStrategy:"merge"` on []string). */
const MERGED_PRIMITIVE_LISTS = new Set(['finalizers']);

function mergeKeyFor(field: string, items: Json[]): string | undefined {
  if (field === 'ports') {
    const sample = items.find(isObject);
    return sample && 'containerPort' in sample ? 'containerPort' : 'port';
  }
  return MERGE_KEYS[field];
}

function mergeListByKey(original: Json[], patch: Json[], key: string): Json[] {
  const out = structuredClone(original);
  for (const item of patch) {
    if (!isObject(item)) continue;
    const directive = item.$patch;
    const index = out.findIndex((o) => isObject(o) && o[key] === item[key]);
    if (directive === 'delete') {
      if (index >= 0) out.splice(index, 1);
    } else if (directive === 'replace') {
      const { $patch: _ignored, ...rest } = item;
      if (index >= 0) out[index] = rest;
      else out.push(rest);
    } else if (index >= 0) {
      out[index] = strategicMergePatch(out[index], item) as Json;
    } else {
      out.push(strategicMergePatch({}, item) as Json);
    }
  }
  return out;
}

function orderBy(list: Json[], order: Json[], key: string | undefined): Json[] {
  const idOf = (v: Json): Json => (key && isObject(v) ? v[key] : v);
  const rank = (v: Json): number => {
    const i = order.findIndex((o) => JSON.stringify(idOf(o)) === JSON.stringify(idOf(v)));
    return i < 0 ? order.length : i;
  };
  return [...list].sort((a, b) => rank(a) - rank(b));
}

/**
 * Strategic merge patch: like a merge patch, but lists with a merge key merge element by element,
 * and the directives `$patch` (replace/delete), `$setElementOrder/<field>`,
 * `$deleteFromPrimitiveList/<field>` and `$retainKeys` are honoured.
 */
export function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  if (patch.$patch === 'replace') {
    const { $patch: _ignored, ...rest } = patch;
    return structuredClone(rest);
  }
  if (patch.$patch === 'delete') return {};
  let out: JsonObject = isObject(target) ? structuredClone(target) : {};
  const retain = patch.$retainKeys;
  for (const [field, value] of Object.entries(patch)) {
    if (field.startsWith('$')) continue;
    const current = out[field];
    if (value === null) delete out[field];
    else if (Array.isArray(value)) {
      const key = mergeKeyFor(field, [...value, ...(Array.isArray(current) ? current : [])]);
      if (key && Array.isArray(current)) out[field] = mergeListByKey(current, value, key);
      else if (key) out[field] = mergeListByKey([], value, key);
      else if (MERGED_PRIMITIVE_LISTS.has(field) && Array.isArray(current)) out[field] = [...new Set([...current, ...value])] as Json[];
      else out[field] = structuredClone(value);
    } else if (isObject(value)) {
      out[field] = strategicMergePatch(current, value) as Json;
    } else {
      out[field] = value;
    }
  }
  for (const [directive, value] of Object.entries(patch)) {
    const [name, field] = directive.split('/');
    if (!field || !Array.isArray(value) || !Array.isArray(out[field])) continue;
    if (name === '$deleteFromPrimitiveList') out[field] = (out[field] as Json[]).filter((v) => !value.includes(v));
    if (name === '$setElementOrder') out[field] = orderBy(out[field] as Json[], value, mergeKeyFor(field, out[field] as Json[]));
  }
  if (Array.isArray(retain)) out = Object.fromEntries(Object.entries(out).filter(([k]) => retain.includes(k)));
  return out;
}

/** Applies a PATCH body according to its Content-Type. Throws ApiError 415 for other types. */
export function applyPatch(contentType: string, target: unknown, body: unknown): unknown {
  const type = contentType.split(';')[0].trim();
  switch (type) {
    case 'application/merge-patch+json': return mergePatch(target, body);
    case 'application/json-patch+json': return jsonPatch(target, body);
    case 'application/strategic-merge-patch+json': return strategicMergePatch(target, body);
    default:
      throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`);
  }
}
