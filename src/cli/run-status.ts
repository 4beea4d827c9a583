/**
 * Runs `status`: lists the sessions and prints them as a table (cli-table3) or JSON. Imported
 * lazily, so --help never loads @kubernetes/client-node.
 */
import { loadKubeContext } from '../kube-api/kubeconfig.ts';
import { checkNamespace } from '../kube/preflight.ts';
import { listHolds } from '../sessions/scale-hold-list.ts';
import { describeHolderState, holdRow, type HoldRow } from '../sessions/scale-holds.ts';
import { listSessions } from '../sessions/session-list.ts';
import { formatAge, formatConnected, type SessionRow } from '../sessions/session-rows.ts';
import { stderrColors as c } from '../ui/colors.ts';
import type { SessionScopeFlags } from './session-flags.ts';

/** What `status --json` prints: the live sessions and the workloads scale_down holds. */
export interface StatusJson {
  sessions: SessionRow[];
  scaledDown: HoldRow[];
}

async function newTable(head: string[]) {
  const { default: Table } = await import('cli-table3');
  // cli-table3 colours borders and headers even into a pipe: only colour a terminal.
  const plain = !process.stdout.isTTY || (process.env.NO_COLOR ?? '') !== '';
  return new Table({ head, ...(plain ? { style: { head: [], border: [] } } : {}) });
}

/** The table: one session per line, its ports one per line inside the cell. */
export async function sessionTable(rows: readonly SessionRow[]): Promise<string> {
  const table = await newTable(['SESSION', 'AGENT', 'TARGET', 'NAMESPACE', 'MODE', 'PORTS', 'USER', 'AGE', 'CLI']);
  for (const r of rows) {
    table.push([r.session, r.agent, r.target, r.targetNamespace === '-' ? r.namespace : r.targetNamespace, r.mode, r.ports.join('\n'), r.user, formatAge(r.ageSeconds), formatConnected(r)]);
  }
  return table.toString();
}

/** `2026-12-01T22:00:00Z (3m12s ago)`. */
function describeSince(since: string, now: number): string {
  const at = Date.parse(since);
  if (Number.isNaN(at)) return since || '-';
  return `${since} (${formatAge(Math.max(0, Math.floor((now - at) / 1000)))} ago)`;
}

/** The scale_down holds: one workload per line. */
export async function holdTable(rows: readonly HoldRow[], now: number): Promise<string> {
  const table = await newTable(['SCALED DOWN', 'NAMESPACE', 'HELD BY', 'USER', 'RESTORES TO', 'SINCE', 'HOLDER']);
  for (const r of rows) {
    table.push([r.workload, r.namespace, r.session, r.user, r.replicas >= 0 ? String(r.replicas) : '?', describeSince(r.since, now), describeHolderState(r)]);
  }
  return table.toString();
}

export async function runStatus(flags: SessionScopeFlags & { json?: boolean }): Promise<void> {
  const ctx = loadKubeContext({ kubeconfigPath: flags.kubeconfig, context: flags.context, namespace: flags.namespace });
  const namespace = flags.allNamespaces ? undefined : ctx.namespace;
  if (namespace !== undefined) await checkNamespace(ctx);
  const { rows, warnings, agents, pods } = await listSessions(ctx, namespace);
  const held = await listHolds(ctx, namespace, pods, agents);
  for (const w of [...warnings, ...held.warnings]) process.stderr.write(`${c.yellow('warning:')} ${w}\n`);
  const holds = held.holds.map(holdRow);
  if (flags.json) {
    const out: StatusJson = { sessions: rows, scaledDown: holds };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  const where = namespace === undefined ? 'any namespace' : `namespace ${namespace}`;
  if (rows.length === 0) process.stderr.write(`no sessions in ${where}\n`);
  else process.stdout.write(`${await sessionTable(rows)}\n`);
  if (holds.length > 0) process.stdout.write(`${rows.length > 0 ? '\n' : ''}${await holdTable(holds, Date.now())}\n`);
}
