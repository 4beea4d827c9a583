/**
 * Where the sandbox keeps its runtime files: `.sandbox/` at the repository root, found from this
 * file's own URL so that the commands work from any working directory.
 */
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';

/** The repository root (three levels above test/sandbox/apiserver/). */
export const REPO_ROOT = resolve(fileURLToPath(new URL('../../../', import.meta.url)));
/** `.sandbox/` at the repository root (git ignores it). */
export const SANDBOX_DIR = join(REPO_ROOT, '.sandbox');

/** Every runtime file of the sandbox. `down` removes all but `pki`. */
export const PATHS = {
  dir: SANDBOX_DIR,
  pki: join(SANDBOX_DIR, 'pki'),
  kubeconfig: join(SANDBOX_DIR, 'kubeconfig'),
  rbac: join(SANDBOX_DIR, 'rbac.json'),
  pid: join(SANDBOX_DIR, 'daemon.pid'),
  apiserverLog: join(SANDBOX_DIR, 'apiserver.log'),
  daemonLog: join(SANDBOX_DIR, 'daemon.log'),
  /** The running daemon's API URL and tokens, for `status` and the harness. */
  state: join(SANDBOX_DIR, 'state.json'),
  /** The node half's own state (network namespaces, pod roots). */
  nodeState: join(SANDBOX_DIR, 'node'),
} as const;
