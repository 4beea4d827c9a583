/**
 * The simple JSON paths CustomResourceDefinitions use for their printer columns and their scale
 * subresource (`.spec.replicas`, `.status.conditions[0].type`, `.metadata.labels['app.kubernetes.io/name']`):
 * fields after dots, and brackets holding an index or a quoted name. kube-apiserver evaluates
 * printer columns with k8s.io/client-go/util/jsonpath and keeps the first result; the scale
 * paths must be of this simple form (apiextensions validation).
 */

/** One step: a field name or an array index. */
type Step = string | number;

/** Parses `.a.b[0]['c.d']`. @throws Error naming the path when it is not of that form. */
export function parsePath(path: string): Step[] {
  const steps: Step[] = [];
  const bad = () => new Error(`unsupported JSON path "${path}": only .field, [index] and ['name'] steps are served`);
  let i = 0;
  while (i < path.length) {
    if (path[i] === '.') {
      const m = /^[A-Za-z0-9_$-]+/.exec(path.slice(i + 1));
      if (!m) throw bad();
      steps.push(m[0]);
      i += 1 + m[0].length;
    } else if (path[i] === '[') {
      const m = /^\[(\d+)\]|^\['([^']*)'\]|^\["([^"]*)"\]/.exec(path.slice(i));
      if (!m) throw bad();
      steps.push(m[1] !== undefined ? Number(m[1]) : (m[2] ?? m[3]));
      i += m[0].length;
    } else {
      throw bad();
    }
  }
  return steps;
}

/** The value at `path` in `obj`, or undefined when any step is missing. */
export function readPath(obj: unknown, path: string): unknown {
  let at: unknown = obj;
  for (const step of parsePath(path)) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string | number, unknown>)[step];
  }
  return at;
}

/** A copy of `obj` with `value` at `path`, making the objects on the way. */
export function writePath<T>(obj: T, path: string, value: unknown): T {
  const steps = parsePath(path);
  if (steps.length === 0) throw new Error(`cannot write the root of "${path}"`);
  const out = structuredClone(obj) as Record<string | number, unknown>;
  let at = out;
  for (const step of steps.slice(0, -1)) {
    if (at[step] === null || typeof at[step] !== 'object') at[step] = {};
    at = at[step] as Record<string | number, unknown>;
  }
  at[steps[steps.length - 1]] = value;
  return out as T;
}
