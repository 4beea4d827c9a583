/**
 * The krew archives as krew unpacks them (research/dist.md 1.2): gzip (krew sniffs the first 512
 * bytes and takes only gzip or zip), only regular files (a symlink fails the install), modes from
 * the headers, and no path that climbs out. Listed by GNU tar, not by our own writer. Each holds
 * the exec layer for its own machine, as binutils reads it: a shared object exporting the hooks.
 * Also: a second build gives the same bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { archiveMembers, archiveName, LAYER_FILE, MEMORY_ADDON_FILE, RELEASE_PLATFORMS, type ReleasePlatform } from '../../scripts/release/platforms.ts';
import { MEMORY_ADDON_FILE as CLI_MEMORY_ADDON_FILE } from '../../src/cli/memory-addon.ts';
import { LAYER_FILE as CLI_LAYER_FILE } from '../../src/cli/run-exec.ts';
import { REPO, releaseBuild, TEST_EPOCH } from './release-build.ts';

for (const platform of RELEASE_PLATFORMS) {
  test(`${platform.os}/${platform.arch}: regular files only, the executable with exec bits, LICENSE and README`, () => {
    const { dir, version } = releaseBuild();
    const file = join(dir, archiveName(version, platform));
    assert.deepEqual([...readFileSync(file).subarray(0, 2)], [0x1f, 0x8b], 'gzip magic');
    const listing = execFileSync('tar', ['-tvzf', file, '--numeric-owner'], { encoding: 'utf8' }).trim().split('\n');
    const entries = listing.map((line) => {
      const [perms, owner, , , , ...name] = line.split(/\s+/);
      return { perms, owner, name: name.join(' ') };
    });
    for (const e of entries) {
      assert.equal(e.perms[0], '-', `${e.name} is a regular file (${e.perms})`);
      assert.ok(!e.name.startsWith('/') && !e.name.split('/').includes('..'), `${e.name} stays inside`);
      assert.equal(e.owner, '0/0');
    }
    const expected = archiveMembers(platform);
    assert.deepEqual(entries.map((e) => e.name), expected.map((m) => m.path));
    assert.equal(entries.find((e) => e.name === 'kubectl-mirrord')?.perms, '-rwxr-xr-x');
    assert.equal(entries.find((e) => e.name === 'LICENSE')?.perms, '-rw-r--r--');
    assert.equal(entries.find((e) => e.name === LAYER_FILE)?.perms, '-rwxr-xr-x', 'the exec layer is in the archive');
    assert.equal(entries.find((e) => e.name === MEMORY_ADDON_FILE)?.perms, '-rwxr-xr-x', 'the memory addon is in the archive');
    const license = execFileSync('tar', ['-xzOf', file, 'LICENSE'], { encoding: 'utf8' });
    assert.match(license, /^MIT License/);
  });
}

/** readelf -h's Machine line for each platform (binutils' names for EM_X86_64 and EM_AARCH64). */
const READELF_MACHINE = { amd64: /X86-64/, arm64: /AArch64/ } as const;

test('the archive holds the layer and the memory addon under the names the single executable looks for next to itself', () => {
  assert.equal(LAYER_FILE, CLI_LAYER_FILE);
  for (const p of RELEASE_PLATFORMS) assert.equal(p.execLayer?.file, CLI_LAYER_FILE, `${p.arch}'s execLayer`);
  assert.equal(MEMORY_ADDON_FILE, CLI_MEMORY_ADDON_FILE);
  for (const p of RELEASE_PLATFORMS) assert.equal(p.memoryAddon?.file, CLI_MEMORY_ADDON_FILE, `${p.arch}'s memoryAddon`);
});

/**
 * Extracts `file` from the platform's archive and reads it as binutils does: readelf -h's header
 * and Machine line, and nm -D's defined dynamic symbols (nm reads either machine's ELF; the dynamic
 * symbols are what the dynamic linker binds).
 */
function withExtractedElf(platform: ReleasePlatform, file: string, check: (elf: { path: string; header: string; machine: string | undefined; defined: Set<string | undefined> }) => void): void {
  const { dir, version } = releaseBuild();
  const out = mkdtempSync(join(tmpdir(), `kmrd-elf-${platform.arch}-`));
  try {
    execFileSync('tar', ['-xzf', join(dir, archiveName(version, platform)), '-C', out, file]);
    const path = join(out, file);
    const header = execFileSync('readelf', ['-h', path], { encoding: 'utf8' });
    const machine = /^\s*Machine:\s*(.+)$/m.exec(header)?.[1];
    const defined = new Set(execFileSync('nm', ['-D', '--defined-only', path], { encoding: 'utf8' }).trim().split('\n').map((l) => l.split(/\s+/).at(-1)));
    check({ path, header, machine, defined });
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

for (const platform of RELEASE_PLATFORMS) {
  test(`${platform.os}/${platform.arch}: the memory addon is an ${platform.arch} shared object with the Node-API entry point`, () => {
    withExtractedElf(platform, MEMORY_ADDON_FILE, ({ path, header, machine, defined }) => {
      assert.match(machine ?? '', READELF_MACHINE[platform.arch], `readelf -h: ${header}`);
      assert.match(header, /^\s*Type:\s*DYN /m, 'a shared object');
      assert.ok(defined.has('napi_register_module_v1'), `Node finds its entry point (${[...defined].join(' ')})`);
      const undefinedSymbols = execFileSync('nm', ['-D', '--undefined-only', path], { encoding: 'utf8' });
      assert.match(undefinedSymbols, /malloc_trim/, 'it calls glibc\'s malloc_trim');
    });
  });
}

for (const platform of RELEASE_PLATFORMS) {
  test(`${platform.os}/${platform.arch}: the exec layer is an ${platform.arch} shared object exporting the hooks`, () => {
    withExtractedElf(platform, LAYER_FILE, ({ header, machine, defined }) => {
      assert.match(machine ?? '', READELF_MACHINE[platform.arch], `readelf -h: ${header}`);
      for (const [other, pattern] of Object.entries(READELF_MACHINE)) if (other !== platform.arch) assert.doesNotMatch(machine!, pattern);
      assert.match(header, /^\s*Type:\s*DYN /m, 'a shared object');
      for (const hook of ['getaddrinfo', 'connect', 'open', 'execve']) assert.ok(defined.has(hook), `${hook} is exported (${[...defined].join(' ')})`);
      assert.ok(!defined.has('main'), 'not an executable');
    });
  });
}

test('building again gives byte-identical archives and manifest', () => {
  const { dir } = releaseBuild();
  const out = mkdtempSync(join(tmpdir(), 'kmrd-rebuild-'));
  try {
    execFileSync(process.execPath, [join(REPO, 'scripts/release.ts'), '--offline', '--no-image', '--out', join(out, 'dist')], {
      cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SOURCE_DATE_EPOCH: String(TEST_EPOCH), KUBECTL_MIRRORD_RELEASE_URL: '' },
    });
    const sums = (d: string) => readFileSync(join(d, 'SHA256SUMS'), 'utf8').split('\n').filter((l) => l && !l.includes('_oci.tar'));
    assert.deepEqual(sums(join(out, 'dist')), sums(dir));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
