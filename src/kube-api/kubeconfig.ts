/**
 * Loading the kubeconfig the way kubectl does ($KUBECONFIG, a colon-separated list, else
 * ~/.kube/config; in a pod, the service account), choosing the context, and the namespace
 * (-n, else the context's, else `default`). Failures name the file or context and what would work.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeconfigError } from '../errors.ts';

export interface KubeContext {
  kc: KubeConfig;
  contextName: string;
  /** The API server URL, for messages. */
  server: string;
  /** The namespace to work in: -n, else the context's, else `default`. */
  namespace: string;
}

export interface KubeContextOptions {
  kubeconfigPath?: string;
  context?: string;
  namespace?: string;
  env?: Record<string, string | undefined>;
}

function loadFiles(kc: KubeConfig, options: KubeContextOptions): void {
  const env = options.env ?? process.env;
  if (options.kubeconfigPath !== undefined) {
    if (!existsSync(options.kubeconfigPath)) {
      throw new KubeconfigError('EKUBECONFIG', `--kubeconfig ${options.kubeconfigPath}: no such file`, {
        hint: 'pass the path of an existing kubeconfig file',
      });
    }
    kc.loadFromFile(options.kubeconfigPath);
    return;
  }
  const fromEnv = (env.KUBECONFIG ?? '').split(delimiter).filter((p) => p !== '');
  if (fromEnv.length > 0) {
    if (!fromEnv.some((p) => existsSync(p))) {
      throw new KubeconfigError('EKUBECONFIG', `KUBECONFIG names no existing file: ${fromEnv.join(delimiter)}`, {
        hint: 'fix KUBECONFIG, or pass --kubeconfig <path>',
      });
    }
    kc.loadFromDefault();
    return;
  }
  if (existsSync(join(homedir(), '.kube', 'config')) || env.KUBERNETES_SERVICE_HOST) {
    kc.loadFromDefault();
    return;
  }
  throw new KubeconfigError('EKUBECONFIG', 'no kubeconfig: KUBECONFIG is not set and ~/.kube/config does not exist', {
    hint: 'set KUBECONFIG or pass --kubeconfig <path> (kubectl config view should show your cluster)',
  });
}

/**
 * Loads the kubeconfig and resolves context and namespace. Makes no request.
 * @throws KubeconfigError (exit code 3): missing or unreadable file, unknown context, no cluster.
 */
export function loadKubeContext(options: KubeContextOptions): KubeContext {
  const kc = new KubeConfig();
  try {
    loadFiles(kc, options);
  } catch (err) {
    if (err instanceof KubeconfigError) throw err;
    throw new KubeconfigError('EKUBECONFIG', `cannot read the kubeconfig: ${(err as Error).message.split('\n')[0]}`, {
      hint: 'check the file with: kubectl config view',
      cause: err,
    });
  }
  if (options.context !== undefined) {
    if (!kc.getContextObject(options.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new KubeconfigError('ECONTEXT', `--context ${options.context}: no such context in the kubeconfig`, {
        hint: known.length > 0 ? `known contexts: ${known.join(', ')}` : 'the kubeconfig has no contexts',
      });
    }
    kc.setCurrentContext(options.context);
  }
  const context = kc.getContextObject(kc.getCurrentContext());
  const cluster = kc.getCurrentCluster();
  if (!context || !cluster) {
    throw new KubeconfigError('ECONTEXT', 'the kubeconfig has no current context with a cluster', {
      hint: 'choose one with --context <name> or kubectl config use-context <name>',
    });
  }
  return { kc, contextName: context.name, server: cluster.server, namespace: options.namespace ?? context.namespace ?? 'default' };
}
