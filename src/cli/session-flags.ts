/** The flags `status` and `kill` share: where to look for sessions. */
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';

export interface SessionScopeFlags {
  namespace?: string;
  allNamespaces?: boolean;
  kubeconfig?: string;
  context?: string;
}

/** -n, -A, --kubeconfig, --context: the flags status and kill share. */
export function addSessionScopeFlags(command: Command): Command {
  return command
    .option('-n, --namespace <namespace>', "namespace to look in (default: the kubeconfig context's)")
    .option('-A, --all-namespaces', 'look in every namespace')
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context (default: the current context)');
}

/** Checks -n against -A. @throws UsageError ENAMESPACEFLAGS. */
export function checkScope(flags: SessionScopeFlags): void {
  if (flags.namespace !== undefined && flags.allNamespaces) {
    throw new UsageError('ENAMESPACEFLAGS', '-n/--namespace and -A/--all-namespaces exclude each other', { hint: 'give one of them' });
  }
}

export interface KillFlags extends SessionScopeFlags {
  allMine?: boolean;
}
