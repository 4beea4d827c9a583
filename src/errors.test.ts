/**
 * One error code means one thing: every `new XError('ECODE', ...)` in product code is read, and a
 * code raised by two different classes (so with two exit codes) fails here, naming both places.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { isProductFile } from '../scripts/import-graph.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const RAISE = /new (UsageError|KubeconfigError|ClusterError|AgentError|LocalError|PortForwardError|MirrordError)\(\s*'([A-Z0-9_]+)'/g;

test('each MirrordError code is raised by one class only', () => {
  const byCode = new Map<string, Map<string, string>>();
  const files = ['src', 'agent'].flatMap((d) => globSync(`${d}/**/*.ts`, { cwd: root })).filter(isProductFile);
  for (const file of files) {
    const source = readFileSync(join(root, file), 'utf8');
    for (const m of source.matchAll(RAISE)) {
      const [, cls, code] = m;
      const line = source.slice(0, m.index).split('\n').length;
      if (!byCode.has(code)) byCode.set(code, new Map());
      const classes = byCode.get(code)!;
      if (!classes.has(cls)) classes.set(cls, `${file}:${line}`);
    }
  }
  assert.ok(byCode.size > 50, `the scan found only ${byCode.size} codes: is the pattern still right?`);
  const clashes = [...byCode].filter(([, classes]) => classes.size > 1)
    .map(([code, classes]) => `${code}: ${[...classes].map(([cls, where]) => `${cls} at ${where}`).join(' and ')}`);
  assert.deepEqual(clashes, []);
});
