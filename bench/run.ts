/**
 * `npm run bench`: measures side by side in one run and prints tables of measurements, ratios and
 * goals. `--json` prints one JSON object instead, whose `ratios` maps each name to a number.
 * `--quick` uses smaller transfers (for a smoke run; the figures are noisier).
 */
import { parseArgs } from 'node:util';
import { benchSession } from './cases/session.ts';
import { emptyReport, merge, printTables } from './report.ts';

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, quick: { type: 'boolean', default: false } } });
const log = (line: string) => { if (!values.json) console.error(`… ${line}`); };
const GiB = 1024 * 1024 * 1024;

const report = emptyReport();
merge(report, await benchSession({
  bytes: values.quick ? GiB / 8 : GiB,
  rounds: values.quick ? 1 : 3,
  latencyCount: values.quick ? 200 : 1000,
  memoryBytes: values.quick ? GiB / 4 : GiB,
}, log));

if (values.json) {
  const measurements = Object.fromEntries(report.measurements.map((m) => [m.name, { value: m.value, unit: m.unit }]));
  const goals = Object.fromEntries(report.goals.map((g) => [g.name, { met: g.met, measured: g.detail }]));
  console.log(JSON.stringify({ measurements, ratios: report.ratios, goals }, null, 2));
} else {
  printTables(report);
}
process.exit(0);
