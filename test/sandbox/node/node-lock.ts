/**
 * One sandbox node per host: the bridge, the cluster DNS address and the KMSB- chains are host-wide,
 * so a second node starting would tear down the first one's network. The owner's PID sits in
 * /run/kmsb-node/owner.pid; a PID that is no longer alive is a crashed owner and is taken over.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { RUN_DIR } from './network-constants.ts';

const OWNER = `${RUN_DIR}/owner.pid`;

/** Thrown by `start` when another live process owns the node. */
export class NodeBusyError extends Error {
  readonly code = 'SANDBOX_NODE_BUSY';
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readOwner(): Promise<{ pid: number; token: string }> {
  const [pid, token = ''] = (await readFile(OWNER, 'utf8').catch(() => '')).trim().split(' ');
  return { pid: Number(pid), token };
}

/**
 * Claims the node for the node object identified by `token`; throws NodeBusyError if a live
 * process (this one included, for a second node object) holds it.
 */
export async function claimNode(token: string): Promise<void> {
  await mkdir(RUN_DIR, { recursive: true });
  const owner = await readOwner();
  if (owner.pid && owner.token !== token && alive(owner.pid)) {
    throw new NodeBusyError(`another sandbox node is running on this host (pid ${owner.pid}): stop that sandbox first (it owns the kmsb0 bridge, 10.96.0.10 and the KMSB- iptables chains)`);
  }
  await writeFile(OWNER, `${process.pid} ${token}\n`);
}

/** Gives the node up, if `token` holds it. */
export async function releaseNode(token: string): Promise<void> {
  if ((await readOwner()).token === token) await rm(OWNER, { force: true });
}
