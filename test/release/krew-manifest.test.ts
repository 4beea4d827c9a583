/**
 * The generated krew manifest against krew's own rules (krew-validation.ts), and its sha256s
 * against the archives they name. The validator is checked first on manifests krew rejects, so a
 * rule that never fires would show.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { archiveName, LAYER_FILE, MEMORY_ADDON_FILE, RELEASE_PLATFORMS } from '../../scripts/release/platforms.ts';
import { installedBy, validateKrewManifest } from './krew-validation.ts';
import { releaseBuild } from './release-build.ts';

const good = () => ({
  apiVersion: 'krew.googlecontainertools.github.com/v1alpha2', kind: 'Plugin', metadata: { name: 'mirrord' },
  spec: {
    version: 'v0.1.0', shortDescription: 'one line',
    platforms: [
      { selector: { matchLabels: { os: 'linux', arch: 'amd64' } }, uri: 'https://x/a.tar.gz', sha256: 'a'.repeat(64), bin: 'kubectl-mirrord', files: [{ from: 'kubectl-mirrord', to: '.' }, { from: 'LICENSE', to: '.' }] },
      { selector: { matchLabels: { os: 'linux', arch: 'arm64' } }, uri: 'https://x/b.tar.gz', sha256: 'b'.repeat(64), bin: 'kubectl-mirrord' },
    ],
  },
});
const members = ['kubectl-mirrord', 'LICENSE', 'README.md'];

test('the ported rules accept a valid manifest and reject each thing krew rejects', () => {
  const files = (m: any) => (i: number) => installedBy(m.spec.platforms[i].files, members);
  const ok = good();
  assert.deepEqual(validateKrewManifest(ok, 'mirrord', files(ok)), []);
  const cases: [string, (m: any) => void, RegExp][] = [
    ['uppercase sha256', (m) => { m.spec.platforms[0].sha256 = 'A'.repeat(64); }, /lowercase hex/],
    ['version without v', (m) => { m.spec.version = '0.1.0'; }, /leading v/],
    ['version with two parts', (m) => { m.spec.version = 'v0.1'; }, /leading v/],
    ['leading zero', (m) => { m.spec.version = 'v01.2.3'; }, /leading v/],
    ['overlapping selectors', (m) => { m.spec.platforms[1].selector = { matchLabels: { os: 'linux' } }; }, /linux\/amd64 matches 2 platforms/],
    ['selector key other than os/arch', (m) => { m.spec.platforms[0].selector.matchLabels.distro = 'debian'; }, /distro is neither/],
    ['selector for no known platform', (m) => { m.spec.platforms[0].selector.matchLabels.os = 'plan9'; }, /no known os\/arch/],
    ['empty selector', (m) => { m.spec.platforms[0].selector = { matchLabels: {} }; }, /selector is empty/],
    ['reserved name', (m) => { m.metadata.name = 'CON'; }, /unsafe plugin name/],
    ['name not the file name', (m) => { m.metadata.name = 'mirror'; }, /does not match file name/],
    ['empty files', (m) => { m.spec.platforms[0].files = []; }, /files is present but empty/],
    ['no LICENSE installed', (m) => { m.spec.platforms[0].files = [{ from: 'kubectl-mirrord', to: '.' }]; }, /no LICENSE/],
    ['two-line shortDescription', (m) => { m.spec.shortDescription = 'a\nb'; }, /shortDescription/],
    ['no bin', (m) => { delete m.spec.platforms[1].bin; }, /bin is empty/],
  ];
  for (const [what, spoil, problem] of cases) {
    const m = good();
    spoil(m);
    const problems = validateKrewManifest(m, 'mirrord', files(m));
    assert.ok(problems.some((p) => problem.test(p)), `${what}: expected a problem matching ${problem}, got ${JSON.stringify(problems)}`);
  }
});

test('dist/krew/mirrord.yaml passes krew\'s rules, installs a LICENSE, and its sha256s are the archives\'', () => {
  const { dir, version } = releaseBuild();
  const manifest = load(readFileSync(join(dir, 'krew/mirrord.yaml'), 'utf8')) as any;
  const archiveMembers = RELEASE_PLATFORMS.map((p) => execFileSync('tar', ['-tzf', join(dir, archiveName(version, p))], { encoding: 'utf8' }).trim().split('\n'));
  assert.deepEqual(validateKrewManifest(manifest, 'mirrord', (i) => installedBy(manifest.spec.platforms[i].files, archiveMembers[i])), []);
  assert.equal(manifest.spec.version, `v${version}`);
  assert.equal(manifest.spec.platforms.length, RELEASE_PLATFORMS.length);
  RELEASE_PLATFORMS.forEach((p, i) => {
    const entry = manifest.spec.platforms[i];
    assert.deepEqual(entry.selector, { matchLabels: { os: p.os, arch: p.arch } });
    const name = archiveName(version, p);
    assert.equal(entry.uri, `https://github.com/kubectl-mirrord/kubectl-mirrord/releases/download/v${version}/${name}`);
    assert.equal(entry.sha256, createHash('sha256').update(readFileSync(join(dir, name))).digest('hex'), `${name}'s sha256`);
    assert.equal(entry.bin, 'kubectl-mirrord');
    assert.ok(installedBy(entry.files, archiveMembers[i]).includes('kubectl-mirrord'), 'the executable is installed');
    // krew installs only what `files` names; exec looks for the layer next to the executable.
    assert.ok(installedBy(entry.files, archiveMembers[i]).includes(LAYER_FILE), 'the exec layer is installed');
    assert.ok(entry.files.some((f: { from: string; to: string }) => f.from === LAYER_FILE && f.to === '.'), 'into the executable\'s folder');
    // And the CLI looks for its memory addon there too.
    assert.ok(installedBy(entry.files, archiveMembers[i]).includes(MEMORY_ADDON_FILE), 'the memory addon is installed');
    assert.ok(entry.files.some((f: { from: string; to: string }) => f.from === MEMORY_ADDON_FILE && f.to === '.'), 'into the executable\'s folder');
  });
});

test('SHA256SUMS lists every artifact with its sha256, in sha256sum(1) format', () => {
  const { dir } = releaseBuild();
  const out = execFileSync('sha256sum', ['--check', '--strict', 'SHA256SUMS'], { cwd: dir, encoding: 'utf8' });
  const checked = out.trim().split('\n').map((l) => l.replace(/: OK$/, ''));
  assert.equal(checked.length, RELEASE_PLATFORMS.length + 2, `archives, krew/mirrord.yaml and the image: ${out}`);
  assert.ok(checked.includes('krew/mirrord.yaml'));
});
