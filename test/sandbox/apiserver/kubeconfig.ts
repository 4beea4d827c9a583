/** Writes the sandbox kubeconfig: contexts `sandbox` (user admin, current) and `sandbox-restricted`. */
import { writeFileSync } from 'node:fs';

/** What the kubeconfig names: the server, the CA to trust and the two users' tokens. */
export interface KubeconfigInput {
  server: string;
  caCert: Buffer;
  tokens: { admin: string; restricted: string };
}

/** The kubeconfig as YAML-compatible JSON (kubectl and client-node read JSON kubeconfigs). */
export function renderKubeconfig(input: KubeconfigInput): string {
  const cluster = { name: 'sandbox', cluster: { server: input.server, 'certificate-authority-data': input.caCert.toString('base64') } };
  const context = (name: string, user: string): object => ({ name, context: { cluster: 'sandbox', user, namespace: 'default' } });
  return `${JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    preferences: {},
    clusters: [cluster],
    users: [{ name: 'admin', user: { token: input.tokens.admin } }, { name: 'restricted', user: { token: input.tokens.restricted } }],
    contexts: [context('sandbox', 'admin'), context('sandbox-restricted', 'restricted')],
    'current-context': 'sandbox',
  }, null, 2)}\n`;
}

/** Writes the kubeconfig to `path` (mode 0600: it holds tokens). */
export function writeKubeconfig(path: string, input: KubeconfigInput): void {
  writeFileSync(path, renderKubeconfig(input), { mode: 0o600 });
}
