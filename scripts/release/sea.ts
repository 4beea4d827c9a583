/**
 * The CLI as a Node single executable application (Node 24 docs, "Single executable
 * applications"): esbuild bundles src/cli/main.ts into one CommonJS file (a SEA's main script is
 * CommonJS, and its `require` loads built-in modules only), `node --experimental-sea-config` turns
 * it into a blob, and postject injects the blob into a copy of the target platform's Node binary.
 *
 * Code cache and snapshot are off: both are specific to the platform that writes them, and one
 * blob serves every platform. The Node binary is stripped before the injection (postject moves
 * segments; stripping afterwards breaks the result: research/dist.md 2.3).
 */
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, chmodSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import type { ReleasePlatform } from './platforms.ts';
import { CLI_NODE_OPTIONS } from '../../src/node-options.ts';

/** The fuse postject flips in a Node binary (Node docs, SEA, "Injecting the preparation blob"). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/**
 * Bundles the CLI to `<workDir>/kubectl-mirrord.cjs`; any `import.meta` left in the code is an error.
 *
 * Whitespace and comments are minified away; names are not, so a stack trace still names its
 * functions. V8 keeps a script's whole source in the heap for as long as it runs, and ~6.7 MB of
 * this one is the Kubernetes client's generated models, which every API call's serializer
 * references: whitespace minification takes the bundle from 9.6 to 4.5 MB, and the CLI's heap and
 * RSS by 5 MB each (heap 16.4 -> 11.5 MB, RSS 68.5 -> 63.7 MB once loaded, process.memoryUsage()
 * at exit). Renaming identifiers as well would save 1.6 MB more of source but cost 2.5 MB more RSS
 * with `keepNames` (the names are then set at run time), and stack traces would be unreadable
 * without it.
 *
 * The result is pure ASCII: V8 holds a source at one byte per character only while every character
 * fits in Latin-1, and at two otherwise. esbuild escapes non-ASCII characters in code (its default
 * `charset: 'ascii'`), and minification drops the comments it used to copy as they were (one arrow
 * in a kept comment once doubled the bundle's footprint). `asciiOnly` rewrites anything left as
 * `\uXXXX`, which means the same character in a string, a regular expression or an identifier.
 */
export async function bundleCli(root: string, workDir: string): Promise<string> {
  const outfile = join(workDir, 'kubectl-mirrord.cjs');
  const result = await build({
    entryPoints: [join(root, 'src/cli/main.ts')],
    outfile,
    write: false,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    // import.meta is empty in CommonJS: code that needs it would misbehave only in the executable.
    logOverride: { 'empty-import-meta': 'error' },
    logLevel: 'error',
    legalComments: 'none',
    minifyWhitespace: true,
  });
  writeFileSync(outfile, asciiOnly(result.outputFiles[0].text));
  return outfile;
}

/** `text` with every UTF-16 code unit above 0x7f written as a `\uXXXX` escape. */
export function asciiOnly(text: string): string {
  return text.replace(/[^\x00-\x7f]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Writes the SEA blob for `bundle` with the running Node (which must be the targets' version).
 * Resolves to the blob's path.
 */
export function seaBlob(bundle: string, workDir: string): string {
  const blob = join(workDir, 'sea-prep.blob');
  const config = join(workDir, 'sea-config.json');
  // Paths relative to workDir: the blob records `main`'s path, and a temporary folder's name
  // would make every build differ.
  writeFileSync(config, JSON.stringify({
    main: relative(workDir, bundle),
    output: relative(workDir, blob),
    disableExperimentalSEAWarning: true,
    useSnapshot: false,
    useCodeCache: false,
    // What bin/kubectl-mirrord passes on the command line (src/node-options.ts says why).
    execArgv: CLI_NODE_OPTIONS,
  }));
  execFileSync(process.execPath, ['--experimental-sea-config', config], { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'] });
  return blob;
}

/** Copies the platform's Node to `out`, strips it, and injects the blob; `out` ends up mode 0755. */
export function injectSea(platform: ReleasePlatform, nodeBinary: string, blob: string, out: string): void {
  copyFileSync(nodeBinary, out);
  chmodSync(out, 0o755);
  execFileSync(platform.strip, ['--strip-unneeded', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  const postject = createRequire(import.meta.url).resolve('postject/dist/cli.js');
  execFileSync(process.execPath, [postject, out, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  chmodSync(out, 0o755);
}
