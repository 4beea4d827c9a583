/**
 * The import rules catch what they promise: a file cycle, a folder cycle in src/, src/ importing
 * agent/, and product code importing tests or test support. Each case is a small tree on disk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importsOf, misplacedTestSupport, problems, readGraph, readMisplacedTestSupport } from './import-graph.ts';

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'import-graph-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

function problemsOf(files: Record<string, string>): string[] {
  const root = tree(files);
  try {
    return problems(readGraph(root));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

test('import specifiers: static, type-only, re-exports and dynamic; comments are not imports', () => {
  const source = [
    "import { a } from './a.ts';",
    "import type { B } from '../b/b.ts';",
    "export { c } from './c.ts';",
    "const d = await import('./d.ts');",
    "import x from 'node:fs';",
    "// import { e } from './e.ts';",
    "/** import { f } from './f.ts'; */",
  ].join('\n');
  assert.deepEqual(importsOf('src/x/x.ts', source), ['src/x/a.ts', 'src/b/b.ts', 'src/x/c.ts', 'src/x/d.ts']);
});

test('a clean tree has no problems', () => {
  assert.deepEqual(problemsOf({
    'src/protocol/a.ts': 'export const a = 1;',
    'src/session/b.ts': "import { a } from '../protocol/a.ts';",
    'agent/main.ts': "import { a } from '../src/protocol/a.ts';",
    'src/session/b.test.ts': "import { x } from '../../test/support/x.ts';",
  }), []);
});

test('a cycle between two files, and between a file and itself', () => {
  const found = problemsOf({
    'agent/one.ts': "import type { T } from './two.ts';",
    'agent/two.ts': "import { one } from './one.ts';",
    'agent/self.ts': "import { s } from './self.ts';",
  });
  assert.deepEqual(found, ['import cycle between files: agent/one.ts ↔ agent/two.ts', 'import cycle between files: agent/self.ts']);
});

test('a cycle between folders of src/ names an import on each side', () => {
  const found = problemsOf({
    'src/kube/a.ts': "import { b } from '../transport/b.ts';",
    'src/transport/b.ts': "import { c } from '../kube/c.ts';",
    'src/kube/c.ts': 'export const c = 1;',
  });
  assert.equal(found.length, 1);
  assert.match(found[0], /^import cycle between folders: src\/kube ↔ src\/transport \(src\/kube\/a\.ts → src\/transport\/b\.ts; src\/transport\/b\.ts → src\/kube\/c\.ts\)$/);
});

test('src/ importing agent/, and product code importing test support or tests', () => {
  const found = problemsOf({
    'src/forward/x.ts': "import { s } from '../../agent/server.ts';",
    'agent/server.ts': "import { h } from '../test/support/harness.ts';\nimport { f } from './fixture.test-support.ts';",
    'agent/fixture.test-support.ts': 'export const f = 1;',
    'test/support/harness.ts': 'export const h = 1;',
  });
  assert.deepEqual(found, [
    'agent/server.ts imports test/support/harness.ts: product code may not import tests or test support',
    'agent/server.ts imports agent/fixture.test-support.ts: product code may not import tests or test support',
    'src/forward/x.ts imports agent/server.ts: src/ never imports agent/',
  ]);
});

test('test support belongs under test/, not beside the product', () => {
  assert.deepEqual(misplacedTestSupport(['agent/incoming/netns.test-support.ts', 'src/kube/a.test.ts', 'test/support/netns.ts', 'test/sandbox/x.test-support.ts', 'src/kube/a.ts']), [
    'agent/incoming/netns.test-support.ts is test support inside a product folder: move it under test/support/',
  ]);
});

test('this repository keeps the rules', () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const graph = readGraph(root);
  assert.ok(graph.edges.size > 50, 'the product files were found');
  assert.deepEqual(problems(graph), []);
  assert.deepEqual(readMisplacedTestSupport(root), []);
});
