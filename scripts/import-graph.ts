/**
 * The product's import graph, and the rules it must keep (issue: one wire contract, no cycles):
 * - no import cycle between product files;
 * - no cycle between the folders of `src/` (`src/kube` → `src/transport` → `src/kube` is one);
 * - `src/` never imports `agent/`;
 * - no product file imports from `test/`, a test (`*.test.ts`) or test support (`*.test-support.ts`);
 * - test support lives under `test/`: beside the product, only the unit tests themselves.
 *
 * Product files are the `.ts` files under `src/`, `agent/` and `bin/` that are neither tests nor
 * test support. Type-only imports count: a cycle of types is still two concepts that cannot be
 * understood apart. Dynamic `import('...')` counts too.
 */
import { readFileSync, globSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';

const PRODUCT_ROOTS = ['src', 'agent', 'bin'];

/** Whether a repository-relative path is product code. */
export function isProductFile(path: string): boolean {
  const top = path.split('/')[0];
  return PRODUCT_ROOTS.includes(top) && !isTestFile(path);
}

/** Tests and test support, wherever they sit. */
export function isTestFile(path: string): boolean {
  return path.startsWith('test/') || path.endsWith('.test.ts') || path.endsWith('.test-support.ts');
}

/** Test support files placed in a product folder (they belong under `test/support/`). */
export function misplacedTestSupport(paths: readonly string[]): string[] {
  return paths.filter((p) => PRODUCT_ROOTS.includes(p.split('/')[0]) && p.endsWith('.test-support.ts'))
    .map((p) => `${p} is test support inside a product folder: move it under test/support/`);
}

/** Every test support file under the product folders of `root`. */
export function readMisplacedTestSupport(root: string): string[] {
  return misplacedTestSupport(PRODUCT_ROOTS.flatMap((dir) => globSync(`${dir}/**/*.test-support.ts`, { cwd: root })).map((f) => f.split(sep).join('/')));
}

const IMPORT_RE = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The relative module specifiers a source file imports, resolved to repository-relative paths. */
export function importsOf(path: string, source: string): string[] {
  const out: string[] = [];
  // Comments may quote import lines (TSDoc examples); they are not imports.
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  for (const m of code.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2];
    if (!spec.startsWith('.')) continue;
    out.push(normalize(join(dirname(path), spec)).split(sep).join('/'));
  }
  return out;
}

export interface Graph {
  /** file → the files it imports (repository-relative). */
  edges: Map<string, string[]>;
}

/** Reads every product file under `root` and its imports. */
export function readGraph(root: string): Graph {
  const files = PRODUCT_ROOTS.flatMap((dir) => globSync(`${dir}/**/*.ts`, { cwd: root }))
    .map((f) => f.split(sep).join('/'))
    .filter(isProductFile)
    .sort();
  const edges = new Map<string, string[]>();
  for (const file of files) edges.set(file, importsOf(file, readFileSync(join(root, file), 'utf8')));
  return { edges };
}

/** Strongly connected components with more than one node, or a node importing itself (Tarjan). */
export function cycles(nodes: Iterable<string>, next: (n: string) => Iterable<string>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const found: string[][] = [];
  let counter = 0;
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || [...next(v)].includes(v)) found.push(component.sort());
    }
  };
  for (const n of nodes) if (!index.has(n)) visit(n);
  return found;
}

/** The folder of `src/` a file belongs to (`src/kube`), or undefined outside `src/`. */
function srcFolder(path: string): string | undefined {
  const parts = path.split('/');
  return parts[0] === 'src' && parts.length > 2 ? `${parts[0]}/${parts[1]}` : undefined;
}

/** Every broken rule, one line each; empty when the graph is clean. */
export function problems(graph: Graph): string[] {
  const out: string[] = [];
  for (const [file, targets] of graph.edges) {
    for (const target of targets) {
      if (isTestFile(target)) out.push(`${file} imports ${target}: product code may not import tests or test support`);
      else if (file.startsWith('src/') && target.startsWith('agent/')) out.push(`${file} imports ${target}: src/ never imports agent/`);
    }
  }
  const productEdges = (n: string) => (graph.edges.get(n) ?? []).filter((t) => graph.edges.has(t));
  for (const cycle of cycles(graph.edges.keys(), productEdges)) out.push(`import cycle between files: ${cycle.join(' ↔ ')}`);

  const folderEdges = new Map<string, Set<string>>();
  const why = new Map<string, string>();
  for (const [file, targets] of graph.edges) {
    const from = srcFolder(file);
    if (!from) continue;
    for (const target of targets) {
      const to = srcFolder(target);
      if (!to || to === from) continue;
      if (!folderEdges.has(from)) folderEdges.set(from, new Set());
      folderEdges.get(from)!.add(to);
      if (!why.has(`${from}>${to}`)) why.set(`${from}>${to}`, `${file} → ${target}`);
    }
  }
  for (const cycle of cycles(folderEdges.keys(), (n) => folderEdges.get(n) ?? [])) {
    const examples = cycle.flatMap((a) => cycle.map((b) => why.get(`${a}>${b}`)).filter(Boolean));
    out.push(`import cycle between folders: ${cycle.join(' ↔ ')} (${examples.join('; ')})`);
  }
  return out;
}

/** Repository-relative form of an absolute path, for messages. */
export function relativeTo(root: string, path: string): string {
  return relative(root, path).split(sep).join('/');
}
