/**
 * `npm run build`: bundles the shipped agent with esbuild into dist/agent/ (agent.mjs, and
 * guard.mjs, the iptables guard the agent starts beside itself). The agent image copies that folder;
 * see scripts/release/agent-image.ts. The CLI runs from source through bin/kubectl-mirrord.
 *
 * ws would try to load the optional native modules bufferutil and utf-8-validate; the agent does
 * not use ws, so nothing needs stubbing here.
 */
import { build } from 'esbuild';
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

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = await buildAgent();
  console.log(`built ${out}/agent.mjs and ${out}/guard.mjs`);
}
