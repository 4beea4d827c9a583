/**
 * A small RFC 6902 JSON Patch applier (add, remove, replace, test on objects), enough to check the
 * patches of scale-down.ts without a cluster. Not product code.
 */
import type { JsonPatchOp } from '../../src/kube/scale-down.ts';

function unescape(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

export function applyJsonPatch<T>(doc: T, ops: JsonPatchOp[]): any {
  const out = structuredClone(doc) as any;
  for (const op of ops) {
    const tokens = op.path.split('/').slice(1).map(unescape);
    const last = tokens.pop()!;
    let parent = out;
    for (const t of tokens) {
      if (parent[t] === undefined) throw new Error(`path ${op.path} does not exist`);
      parent = parent[t];
    }
    if (op.op === 'test') {
      if (JSON.stringify(parent[last]) !== JSON.stringify(op.value)) throw new Error(`test failed at ${op.path}`);
    } else if (op.op === 'remove' || op.op === 'replace') {
      if (!(last in parent)) throw new Error(`path ${op.path} does not exist`);
      if (op.op === 'remove') delete parent[last];
      else parent[last] = op.value;
    } else parent[last] = op.value;
  }
  return out;
}
