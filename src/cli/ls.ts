/**
 * `kubectl mirrord ls`: the targets of a namespace (or of all of them with -A), written the way
 * `--target` accepts them, as a table or as JSON.
 */
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';

interface LsFlags {
  namespace?: string;
  allNamespaces?: boolean;
  json?: boolean;
  kubeconfig?: string;
  context?: string;
}

export function registerLs(program: Command): void {
  program
    .command('ls')
    .description('list the targets (--target KIND/NAME) in a namespace, or in all with -A')
    .option('-n, --namespace <namespace>', "namespace to list (default: the kubeconfig context's)")
    .option('-A, --all-namespaces', 'list the targets of every namespace')
    .option('--json', 'print JSON: [{namespace, target, status, containers}]')
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context (default: the current context)')
    .addHelpText('after', '\nExamples:\n  kubectl mirrord ls\n  kubectl mirrord ls -A --json\n  kubectl mirrord port-forward --target deployment/web -R 8080\n')
    .action(async (flags: LsFlags) => {
      if (flags.namespace !== undefined && flags.allNamespaces) {
        throw new UsageError('ENAMESPACEFLAGS', '-n/--namespace and -A/--all-namespaces exclude each other', { hint: 'give one of them' });
      }
      await runLs(flags);
    });
}

async function runLs(flags: LsFlags): Promise<void> {
  const [{ loadKubeContext }, { readTargetObjects }, { targetRows }, { errorFromKubeCall }, { checkNamespace }] = await Promise.all([
    import('../kube-api/kubeconfig.ts'),
    import('../kube/target-api.ts'),
    import('../kube/target-list.ts'),
    import('../kube-api/api-errors.ts'),
    import('../kube/preflight.ts'),
  ]);
  const ctx = loadKubeContext({ kubeconfigPath: flags.kubeconfig, context: flags.context, namespace: flags.namespace });
  const namespace = flags.allNamespaces ? undefined : ctx.namespace;
  if (namespace !== undefined) await checkNamespace(ctx);
  let objects;
  try {
    objects = await readTargetObjects(ctx, namespace);
  } catch (err) {
    throw errorFromKubeCall(err, `list pods, deployments and statefulsets in ${namespace === undefined ? 'all namespaces' : `namespace "${namespace}"`}`, ctx.server);
  }
  const rows = targetRows(objects);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  if (rows.length === 0) {
    process.stderr.write(`no targets in ${namespace === undefined ? 'any namespace' : `namespace ${namespace}`}\n`);
    return;
  }
  const { default: Table } = await import('cli-table3');
  // cli-table3 colours borders and headers even into a pipe: only colour a terminal.
  const plain = !process.stdout.isTTY || (process.env.NO_COLOR ?? '') !== '';
  const table = new Table({
    head: ['NAMESPACE', 'TARGET', 'READY/STATUS', 'CONTAINERS'],
    // No line between rows: one target per line reads like kubectl get.
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
    ...(plain ? { style: { head: [], border: [] } } : {}),
  });
  for (const row of rows) table.push([row.namespace, row.target, row.status, row.containers.join(', ')]);
  process.stdout.write(`${table.toString()}\n`);
}
