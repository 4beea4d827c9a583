/**
 * `npm run bench`: measures side by side in one run and prints tables of measurements, ratios and
 * goals. `--json` prints one JSON object instead, whose `ratios` maps each name to a number.
 * `--quick` uses smaller transfers (for a smoke run; the figures are noisier). `--only NAME` runs one
 * case: session (loopback, no root), portforward, kubectl (-L against kubectl port-forward, with CPU per
 * GB and the CLI's memory), udp, reverse, exec or incoming (stolen requests through exec, next to -R
 * and direct) (the sandbox cluster; need root), or release (the single executables and the agent
 * image).
 */
import { parseArgs } from 'node:util';
import { benchSession } from './cases/session.ts';
import { benchPortForward } from './cases/portforward.ts';
import { benchReverse } from './cases/reverse.ts';
import { benchKubectl } from './cases/kubectl.ts';
import { benchUdp } from './cases/udp.ts';
import { benchRelease } from './cases/release.ts';
import { benchExec } from './cases/exec.ts';
import { benchIncoming } from './cases/incoming.ts';
import { emptyReport, merge, printTables } from './report.ts';
import { buildAgent } from '../scripts/build.ts';

const CASES = ['session', 'portforward', 'kubectl', 'udp', 'reverse', 'exec', 'incoming', 'release'];
const USAGE = `usage: npm run bench -- [--json] [--quick] [--only CASE]... [--cli-from-source]
  CASE: ${CASES.join(', ')}`;

function parseOptions() {
  try {
    return parseArgs({
      options: {
        json: { type: 'boolean', default: false },
        quick: { type: 'boolean', default: false },
        /** Only the cases named, e.g. --only session. */
        only: { type: 'string', multiple: true },
        /** kubectl case: run our CLI from source instead of as it ships (bundled). */
        'cli-from-source': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (err) {
    console.error(`error: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}
const values = parseOptions();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const unknown = (values.only ?? []).filter((name) => !CASES.includes(name));
if (unknown.length > 0) {
  console.error(`error: no benchmark case ${unknown.join(', ')}\n${USAGE}`);
  process.exit(2);
}
const wanted = (name: string) => !values.only || values.only.includes(name);
const log = (line: string) => { if (!values.json) console.error(`… ${line}`); };
const GiB = 1024 * 1024 * 1024;

// The agent runs as it ships: bundled, not through type stripping (which alone costs ~40 MB of RSS).
await buildAgent();
const report = emptyReport();
if (wanted('session')) {
  merge(report, await benchSession({
    bytes: values.quick ? GiB / 8 : GiB,
    rounds: values.quick ? 1 : 5,
    latencyCount: values.quick ? 200 : 1000,
    memoryBytes: values.quick ? GiB / 4 : GiB,
  }, log));
}
if (wanted('portforward')) {
  if (process.getuid?.() !== 0) {
    report.goals.push({ name: 'sandbox benchmarks', met: false, detail: 'skipped: the sandbox needs root' });
  } else {
    merge(report, await benchPortForward({ bytes: values.quick ? GiB / 8 : GiB / 2, latencyCount: values.quick ? 100 : 500 }, log));
  }
}
if (wanted('kubectl') && process.getuid?.() === 0) {
  const MiB = 1024 * 1024;
  merge(report, await benchKubectl({
    bytes: values.quick ? 32 * MiB : 256 * MiB,
    rounds: values.quick ? 1 : 3,
    roundTrips: values.quick ? 300 : 2000,
    latencyCount: values.quick ? 100 : 300,
    memoryBytes: values.quick ? 64 * MiB : GiB,
    cliFromSource: values['cli-from-source'],
  }, log));
}
if (wanted('udp') && process.getuid?.() === 0) {
  merge(report, await benchUdp({ count: values.quick ? 5000 : 50_000, latencyCount: values.quick ? 500 : 2000 }, log));
}
if (wanted('reverse') && process.getuid?.() === 0) {
  merge(report, await benchReverse({ latencyCount: values.quick ? 200 : 1000, durationMs: values.quick ? 2000 : 5000, concurrency: 8 }, log));
}

if (wanted('exec') && process.getuid?.() === 0) {
  merge(report, await benchExec({ count: values.quick ? 200 : 1000 }, log));
}

if (wanted('incoming') && process.getuid?.() === 0) {
  merge(report, await benchIncoming({ latencyCount: values.quick ? 200 : 1000, durationMs: values.quick ? 2000 : 5000, concurrency: 8 }, log));
}

if (wanted('release')) merge(report, benchRelease({ runs: values.quick ? 5 : 20 }, log));

if (values.json) {
  const measurements = Object.fromEntries(report.measurements.map((m) => [m.name, { value: m.value, unit: m.unit }]));
  const goals = Object.fromEntries(report.goals.map((g) => [g.name, { met: g.met, measured: g.detail }]));
  console.log(JSON.stringify({ measurements, ratios: report.ratios, goals }, null, 2));
} else {
  printTables(report);
}
process.exit(0);
