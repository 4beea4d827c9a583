/**
 * `npm run check:imports`: fails (exit 1) on an import cycle in product code, a cycle between the
 * folders of src/, src/ importing agent/, product code importing tests or test support, or test
 * support kept in a product folder.
 * The rules are in import-graph.ts.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { problems, readGraph, readMisplacedTestSupport } from './import-graph.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const graph = readGraph(root);
const found = [...problems(graph), ...readMisplacedTestSupport(root)];
if (found.length > 0) {
  for (const line of found) console.error(`check:imports: ${line}`);
  console.error(`check:imports: ${found.length} problem(s) in ${graph.edges.size} product files`);
  process.exit(1);
}
console.log(`check:imports: ${graph.edges.size} product files, no cycles, no test imports, no test support beside them`);
