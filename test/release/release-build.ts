/**
 * Test support: one release build (`scripts/release.ts --offline`) shared by every test file that
 * looks at release artifacts, cached under node_modules/.cache/kubectl-mirrord/release-test/<key>,
 * where the key hashes every input: the tracked sources the build reads, the Node version, and the
 * cached .deb files' names (their versions). The build is offline, so a test never downloads;
 * `.ci/run` fetches the inputs first (`npm run release -- --fetch`). Timestamps are pinned
 * (SOURCE_DATE_EPOCH), so a new commit alone does not invalidate the cache.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CACHE = join(REPO, 'node_modules/.cache/kubectl-mirrord');
/** The timestamp test builds carry: 2026-01-01T00:00:00Z. */
export const TEST_EPOCH = 1767225600;

export interface ReleaseBuild { dir: string; version: string }

/** The inputs' hash: git's blob ids of the tracked (and unignored new) files the build reads, plus the rest. */
function inputKey(): string {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z', '--', 'src', 'agent', 'scripts', 'layer', 'package.json', 'package-lock.json', 'LICENSE', 'README.md'],
    { cwd: REPO, encoding: 'utf8' }).split('\0').filter((f) => f && existsSync(join(REPO, f))).sort();
  const hash = createHash('sha256');
  for (const f of files) hash.update(f).update('\0').update(readFileSync(join(REPO, f))).update('\0');
  hash.update(process.versions.node);
  const debs = join(CACHE, 'debs');
  if (existsSync(debs)) for (const arch of readdirSync(debs).sort()) hash.update(`${arch}:${readdirSync(join(debs, arch)).sort().join(',')}`);
  return hash.digest('hex').slice(0, 16);
}

let built: ReleaseBuild | undefined;

/**
 * The release build for the current inputs; builds it (about a minute) when the cache misses.
 * Test files may run in parallel: the build runs under flock(1), and whoever gets the lock second
 * finds the build done.
 */
export function releaseBuild(): ReleaseBuild {
  if (built) return built;
  const version = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
  const root = join(CACHE, 'release-test');
  const dir = join(root, inputKey());
  if (!existsSync(join(dir, 'SHA256SUMS'))) {
    mkdirSync(root, { recursive: true });
    execFileSync('flock', [join(root, '.lock'), process.execPath, fileURLToPath(import.meta.url), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  }
  built = { dir, version };
  return built;
}

/** Under the lock: builds into `dir` unless another process just did, and drops older keys. */
function buildLocked(dir: string): void {
  const root = dirname(dir);
  // It deletes every sibling of `dir`: only ever the cache's own folder (a /tmp path once emptied /tmp).
  if (root !== join(CACHE, 'release-test')) throw new Error(`release-build: refusing ${dir}: only a folder directly under ${join(CACHE, 'release-test')} is accepted`);
  if (existsSync(join(dir, 'SHA256SUMS'))) return;
  for (const entry of readdirSync(root)) if (entry !== '.lock') rmSync(join(root, entry), { recursive: true, force: true });
  const out = `${dir}.build`;
  execFileSync(process.execPath, [join(REPO, 'scripts/release.ts'), '--offline', '--out', out], {
    cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SOURCE_DATE_EPOCH: String(TEST_EPOCH), KUBECTL_MIRRORD_RELEASE_URL: '' },
  });
  renameSync(out, dir);
}

if (import.meta.url === `file://${process.argv[1]}`) buildLocked(process.argv[2]);
