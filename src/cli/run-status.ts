/**
 * Runs `status`: lists the sessions and prints them as a table (cli-table3) or JSON. Imported
 * lazily, so --help never loads @kubernetes/client-node.
 */
import { loadKubeContext } from '../kube-api/kubeconfig.ts';
import { checkNamespace } from '../kube/preflight.ts';
import { listSessions } from '../sessions/session-list.ts';
import { formatAge, formatConnected, type SessionRow } from '../sessions/session-rows.ts';
import { stderrColors as c } from '../ui/colors.ts';
import type { SessionScopeFlags } from './session-flags.ts';

/** The table: one session per line, its ports one per line inside the cell. */
export async function sessionTable(rows: readonly SessionRow[]): Promise<string> {
  const { default: Table } = await import('cli-table3');
  // cli-table3 colours borders and headers even into a pipe: only colour a terminal.
  const plain = !process.stdout.isTTY || (process.env.NO_COLOR ?? '') !== '';
  const table = new Table({
    head: ['SESSION', 'AGENT', 'TARGET', 'NAMESPACE', 'MODE', 'PORTS', 'USER', 'AGE', 'CLI'],
    ...(plain ? { style: { head: [], border: [] } } : {}),
  });
  for (const r of rows) {
    table.push([r.session, r.agent, r.target, r.targetNamespace === '-' ? r.namespace : r.targetNamespace, r.mode, r.ports.join('\n'), r.user, formatAge(r.ageSeconds), formatConnected(r)]);
  }
  return table.toString();
}

export async function runStatus(flags: SessionScopeFlags & { json?: boolean }): Promise<void> {
  const ctx = loadKubeContext({ kubeconfigPath: flags.kubeconfig, context: flags.context, namespace: flags.namespace });
  const namespace = flags.allNamespaces ? undefined : ctx.namespace;
  if (namespace !== undefined) await checkNamespace(ctx);
  const { rows, warnings } = await listSessions(ctx, namespace);
  for (const w of warnings) process.stderr.write(`${c.yellow('warning:')} ${w}\n`);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  if (rows.length === 0) {
    process.stderr.write(`no sessions in ${namespace === undefined ? 'any namespace' : `namespace ${namespace}`}\n`);
    return;
  }
  process.stdout.write(`${await sessionTable(rows)}\n`);
}
