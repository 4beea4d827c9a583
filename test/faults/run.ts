/**
 * `npm run faults`: runs every fault scenario on the sandbox (under the caller's sandbox lock) and
 * prints what was observed, one row per fault, with the timings that are goals, not assertions
 * (test/e2e/faults.test.ts runs the same scenarios and asserts with wide margins).
 *
 *   npm run faults [-- --only NAME[,NAME]]     names: kill-all, sigstop, pod-deleted, cli-kill9,
 *                                               ctrl-c-startup, api-cut, socks-1000, random-bytes
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startSandbox } from '../sandbox/harness.ts';
import { REPO, kubectl, kubectlJson } from '../e2e/cli-process.ts';
import { describeRules, type FaultEnv, type FaultObservation } from './fault-env.ts';
import { SCENARIOS } from './scenarios.ts';

function cell(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const para of text.split('\n')) {
    let line = '';
    for (const word of para.split(' ')) {
      if (line && line.length + word.length + 1 > width) { lines.push(line); line = word; } else line = line ? `${line} ${word}` : word;
    }
    lines.push(line);
  }
  return lines;
}

function table(rows: FaultObservation[]): string {
  const head = ['fault', 'local ports', 'traffic again after', 'rules left', 'Jobs left', 'data on surviving connections'];
  const widths = [24, 20, 28, 30, 22, 32];
  const body = rows.map((r) => [
    r.fault, r.portsBound,
    `${r.recoveryMs === null ? '-' : r.recoveryMs === undefined ? 'never (in the time given)' : `${(r.recoveryMs / 1000).toFixed(1)} s`}: ${r.recovery}`,
    describeRules(r.rulesLeft),
    r.jobsLeft.length ? r.jobsLeft.join(', ') : 'none', r.dataLoss,
  ]);
  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const render = (cells: string[]) => {
    const wrapped = cells.map((c, i) => cell(c, widths[i]));
    const height = Math.max(...wrapped.map((w) => w.length));
    return Array.from({ length: height }, (_, k) => `| ${wrapped.map((w, i) => (w[k] ?? '').padEnd(widths[i])).join(' | ')} |`).join('\n');
  };
  return [rule, render(head), rule, ...body.map((b) => `${render(b)}\n${rule}`)].join('\n');
}

async function main(): Promise<void> {
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1].split(',') : undefined;
  const scratch = mkdtempSync(join(tmpdir(), 'kmrd-faults-'));
  const sandbox = await startSandbox();
  const rows: FaultObservation[] = [];
  try {
    const kubeconfig = sandbox.kubeconfigPath;
    await kubectl(kubeconfig, ['apply', '-f', join(REPO, 'test/sandbox/demo.yaml')]);
    for (const d of ['ip-visit-counter', 'ip-info']) await kubectl(kubeconfig, ['wait', '--for=condition=Available', `deployment/${d}`, '--timeout=90s']);
    const svc = await kubectlJson(kubeconfig, ['get', 'service', 'ip-visit-counter']);
    const env: FaultEnv = { kubeconfig, serviceUrl: `http://${svc.spec.clusterIP}` };
    for (const scenario of SCENARIOS) {
      if (only && !only.includes(scenario.name)) continue;
      process.stderr.write(`fault: ${scenario.name} ...\n`);
      try {
        const row = await scenario.run(env, scratch);
        rows.push(row);
        for (const note of row.notes) process.stderr.write(`  ${note}\n`);
      } catch (err) {
        rows.push({ fault: scenario.name, portsBound: '?', recoveryMs: undefined, recovery: `scenario failed: ${(err as Error).message.split('\n')[0]}`, rulesLeft: [], jobsLeft: [], dataLoss: '?', notes: [] });
      }
    }
  } finally {
    await sandbox.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
  process.stdout.write(`${table(rows)}\n`);
  for (const r of rows) if (r.notes.length) process.stdout.write(`\n${r.fault}:\n${r.notes.map((n) => `  - ${n}`).join('\n')}\n`);
}

await main();
