/**
 * `npm run build`: bundles the shipped agent with esbuild into dist/agent/ (agent.mjs, and
 * guard.mjs, the iptables guard the agent starts beside itself), builds the exec layer
 * (`make -C layer`: build/layer/libkubectl_mirrord_layer.so) and the CLI's memory addon
 * (`make -C native`: build/native/kubectl_mirrord_memory.node). The agent image copies dist/agent;
 * see scripts/release/agent-image.ts. The CLI runs from source through bin/kubectl-mirrord.
 *
 * ws would try to load the optional native modules bufferutil and utf-8-validate; the agent does
 * not use ws, so nothing needs stubbing here.
 */
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const defaultOutdir = `${root}dist/agent`;

/** Bundles the agent into `outdir`; resolves with it. `sourcemap: false` for the image. */
export async function buildAgent(outdir = defaultOutdir, sourcemap = true): Promise<string> {
  rmSync(outdir, { recursive: true, force: true });
  await build({
    entryPoints: { agent: `${root}agent/main.ts`, guard: `${root}agent/incoming/guard.ts` },
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    sourcemap: sourcemap ? 'linked' : false,
    logLevel: 'warning',
  });
  return outdir;
}

/**
 * Builds the LD_PRELOAD layer with the system's C compiler (`make -C layer [target]`); resolves
 * with the shared object's path. Throws with make's output when the build fails.
 */
export function buildLayer(target?: 'arm64' | 'probe' | 'probe-arm64' | 'codec-dump'): string {
  const run = spawnSync('make', ['-s', '-C', `${root}layer`, ...(target ? [target] : [])], { encoding: 'utf8' });
  if (run.error) throw new Error(`make -C layer could not start (${run.error.message}): install make and a C compiler`);
  if (run.status !== 0) throw new Error(`make -C layer failed:\n${run.stdout}${run.stderr}`);
  return `${root}build/layer/${target === 'arm64' || target === 'probe-arm64' ? 'aarch64/' : ''}libkubectl_mirrord_layer.so`;
}

/**
 * Builds the CLI's memory addon (`make -C native [arm64]`); resolves with its path. Throws with
 * make's output when the build fails.
 */
export function buildMemoryAddon(target?: 'arm64'): string {
  const run = spawnSync('make', ['-s', '-C', `${root}native`, ...(target ? [target] : [])], { encoding: 'utf8' });
  if (run.error) throw new Error(`make -C native could not start (${run.error.message}): install make and a C compiler`);
  if (run.status !== 0) throw new Error(`make -C native failed:\n${run.stdout}${run.stderr}`);
  return `${root}build/native/${target === 'arm64' ? 'aarch64/' : ''}kubectl_mirrord_memory.node`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = await buildAgent();
  console.log(`built ${out}/agent.mjs and ${out}/guard.mjs`);
  console.log(`built ${buildLayer()}`);
  console.log(`built ${buildMemoryAddon()}`);
}
