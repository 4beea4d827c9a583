/**
 * `npm test`: type-checks, then runs every test file with Node's test runner.
 *
 * Unit tests sit beside their code (src/, agent/); the sandbox's fidelity tests and the end-to-end
 * tests live under test/. The runner's default concurrency on this 2-core machine is one file at
 * a time, which the sandbox tests need: they share one sandbox cluster.
 *
 *   npm test                 everything
 *   npm test -- --unit       only unit tests (no root, no sandbox)
 *   npm test -- PATTERN...   only files whose path contains a PATTERN
 */
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const patterns = args.filter((a) => !a.startsWith('--'));

const unitGlobs = ['src/**/*.test.ts', 'agent/**/*.test.ts', 'bench/**/*.test.ts', 'scripts/**/*.test.ts'];
const integrationGlobs = ['test/**/*.test.ts'];
const files = (unitOnly ? unitGlobs : [...unitGlobs, ...integrationGlobs])
  .flatMap((g) => globSync(g, { cwd: root }))
  .filter((f) => !f.includes('node_modules'))
  .filter((f) => patterns.length === 0 || patterns.some((p) => f.includes(p)))
  .sort((a, b) => Number(a.startsWith('test/')) - Number(b.startsWith('test/')) || a.localeCompare(b));

if (patterns.length === 0) {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  console.log('> tsc --noEmit');
  const typecheck = spawnSync(process.execPath, [tsc, '--noEmit', '-p', root], { stdio: 'inherit', cwd: root });
  if (typecheck.status !== 0) process.exit(typecheck.status ?? 1);
}

if (files.length === 0) {
  console.error(`no test files match ${patterns.join(' ')}`);
  process.exit(1);
}
const run = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], { stdio: 'inherit', cwd: root });
process.exit(run.status ?? 1);
