import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkReleaseVersion, krewVersion, ReleaseVersionError } from './version.ts';
import { releaseBaseUrl } from './krew-manifest.ts';

test('release versions: semver accepted, anything krew would reject refused with what is accepted', () => {
  for (const v of ['0.1.0', '1.0.0-rc.1', '2.3.4+g1234', '10.20.30-alpha.1+build.5']) assert.equal(checkReleaseVersion(v), v);
  assert.equal(krewVersion('0.1.0'), 'v0.1.0');
  for (const bad of ['v0.1.0', '0.1', '01.2.3', '0.1.0-', '0.1.0 dirty', '', undefined, 1]) {
    assert.throws(() => checkReleaseVersion(bad), (err: Error) =>
      err instanceof ReleaseVersionError && err.message.includes(JSON.stringify(bad)) && /MAJOR\.MINOR\.PATCH/.test(err.message), String(bad));
  }
});

test('the archives\' download location: GitHub releases by default, KUBECTL_MIRRORD_RELEASE_URL with {version}', () => {
  assert.equal(releaseBaseUrl('0.1.0', {}), 'https://github.com/kubectl-mirrord/kubectl-mirrord/releases/download/v0.1.0');
  assert.equal(releaseBaseUrl('0.2.0', { KUBECTL_MIRRORD_RELEASE_URL: 'https://mirror.example/kmrd/{version}/' }), 'https://mirror.example/kmrd/0.2.0');
});
