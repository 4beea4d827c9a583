/**
 * Label and field selectors, as `?labelSelector=` and `?fieldSelector=` carry them
 * (k8s.io/apimachinery/pkg/labels/selector.go and pkg/fields/selector.go).
 */
import type { KObject } from '../contract.ts';
import { badRequest } from './status.ts';

type Operator = 'exists' | '!exists' | '=' | '!=' | 'in' | 'notin';

interface Requirement {
  key: string;
  op: Operator;
  values: string[];
}

/** A parsed selector: true when the object matches every requirement. */
export type Matcher = (obj: KObject) => boolean;

/** Splits on commas that are not inside parentheses (`a in (x,y),b`). */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth += 1;
    if (ch === ')') depth -= 1;
    if (ch === ',' && depth === 0) {
      terms.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  terms.push(current);
  return terms.map((t) => t.trim()).filter((t) => t.length > 0);
}

function parseLabelTerm(term: string): Requirement {
  const setMatch = /^([^\s!=()]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
  if (setMatch) {
    const values = setMatch[3].split(',').map((v) => v.trim()).filter((v) => v.length > 0);
    return { key: setMatch[1], op: setMatch[2] as Operator, values };
  }
  const eqMatch = /^([^\s!=()]+)\s*(==|!=|=)\s*([^\s!=(),]*)$/.exec(term);
  if (eqMatch) {
    return { key: eqMatch[1], op: eqMatch[2] === '!=' ? '!=' : '=', values: [eqMatch[3]] };
  }
  const existsMatch = /^(!?)\s*([^\s!=()]+)$/.exec(term);
  if (existsMatch) return { key: existsMatch[2], op: existsMatch[1] ? '!exists' : 'exists', values: [] };
  throw badRequest(`unable to parse requirement: found '${term}', expected: key, !key, key=value, key!=value, key in (values) or key notin (values)`);
}

function matchesRequirement(labels: Record<string, string>, req: Requirement): boolean {
  const has = Object.hasOwn(labels, req.key);
  const value = labels[req.key];
  switch (req.op) {
    case 'exists': return has;
    case '!exists': return !has;
    case '=': return has && value === req.values[0];
    case '!=': return !has || value !== req.values[0];
    case 'in': return has && req.values.includes(value);
    case 'notin': return !has || !req.values.includes(value);
  }
}

/** Parses a label selector. Empty or undefined matches everything. Throws ApiError 400 on bad syntax. */
export function parseLabelSelector(selector: string | undefined | null): Matcher {
  if (!selector) return () => true;
  const reqs = splitTerms(selector).map(parseLabelTerm);
  return (obj) => reqs.every((r) => matchesRequirement(obj.metadata.labels ?? {}, r));
}

/** Matches a label map against `matchLabels`/`matchExpressions` (a workload's spec.selector). */
export function matchesLabelSelectorObject(
  labels: Record<string, string> | undefined,
  selector: { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> } | undefined,
): boolean {
  if (!selector) return false;
  const reqs: Requirement[] = Object.entries(selector.matchLabels ?? {}).map(([key, v]) => ({ key, op: '=' as const, values: [v] }));
  for (const e of selector.matchExpressions ?? []) {
    const op = ({ In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!exists' } as const)[e.operator as 'In'];
    if (op) reqs.push({ key: e.key, op, values: e.values ?? [] });
  }
  return reqs.every((r) => matchesRequirement(labels ?? {}, r));
}

/** Reads a dotted field path (`status.phase`, `involvedObject.name`) as a string; missing → "". */
function fieldValue(obj: KObject, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur === undefined || cur === null ? '' : String(cur);
}

/**
 * Parses a field selector (`metadata.name=x,status.phase!=Running`). Any dotted field path is
 * accepted, a superset of the fields kube-apiserver indexes per resource.
 */
export function parseFieldSelector(selector: string | undefined | null): Matcher {
  if (!selector) return () => true;
  const reqs = splitTerms(selector).map((term) => {
    const m = /^([^!=]+?)\s*(==|!=|=)\s*(.*)$/.exec(term);
    if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${term}'`);
    return { path: m[1], negate: m[2] === '!=', value: m[3] };
  });
  return (obj) => reqs.every((r) => (fieldValue(obj, r.path) === r.value) !== r.negate);
}
