/**
 * `npm run release` refuses what krew or a reader would refuse, before building anything: a
 * package.json version that is not a release version, and unknown options. Run on a copy of the
 * repository's sources whose package.json has the bad version.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './release-build.ts';

function releaseIn(version: string, args: string[]): { status: number | null; stderr: string; dist: boolean } {
  const copy = mkdtempSync(join(tmpdir(), 'kmrd-release-bad-'));
  try {
    for (const f of ['scripts', 'src', 'agent', 'LICENSE', 'README.md']) cpSync(join(REPO, f), join(copy, f), { recursive: true });
    symlinkSync(join(REPO, 'node_modules'), join(copy, 'node_modules'));
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
    writeFileSync(join(copy, 'package.json'), JSON.stringify({ ...pkg, version }));
    const r = spawnSync(process.execPath, [join(copy, 'scripts/release.ts'), ...args], { cwd: copy, encoding: 'utf8' });
    return { status: r.status, stderr: r.stderr, dist: existsSync(join(copy, 'dist')) };
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

test('a version that is not semver: exit 2 naming it and what is accepted, and no dist/', () => {
  for (const version of ['0.2.0-dirty+', 'v0.2.0', '0.2']) {
    const r = releaseIn(version, ['--offline']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^error: package.json "version" is "${version.replace(/[.+]/g, '\\$&')}", which is not a release version`));
    assert.match(r.stderr, /MAJOR\.MINOR\.PATCH/);
    assert.equal(r.dist, false);
  }
});

test('an unknown option: exit 2 listing the accepted ones', () => {
  const r = releaseIn('0.2.0', ['--ofline']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown option --ofline; accepted: --out DIR, --offline, --fetch, --no-image/);
});
