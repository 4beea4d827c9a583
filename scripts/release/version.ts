/**
 * The release version. krew requires `spec.version` to be semver with a leading `v`, exactly three
 * numeric parts without leading zeros, and optional `-pre.release` / `+build` parts
 * (krew internal/installation/semver/version.go, which calls k8s.io/apimachinery's
 * version.ParseSemantic; see research/dist.md 1.1). package.json holds it without the `v`.
 */

/** Semantic Versioning 2.0.0's grammar, restricted the way ParseSemantic is. */
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

export class ReleaseVersionError extends Error {
  override name = 'ReleaseVersionError';
}

/** Returns the version unchanged, or throws naming what is wrong and what would be accepted. */
export function checkReleaseVersion(version: unknown): string {
  if (typeof version !== 'string' || !SEMVER.test(version)) {
    throw new ReleaseVersionError(
      `package.json "version" is ${JSON.stringify(version)}, which is not a release version: ` +
      'use MAJOR.MINOR.PATCH with optional -prerelease and +build parts and no leading zeros (e.g. 0.2.0, 1.0.0-rc.1), ' +
      "as krew's manifest needs it (it adds the leading v)");
  }
  return version;
}

/** The version as the krew manifest writes it: `v0.1.0`. */
export function krewVersion(version: string): string {
  return `v${checkReleaseVersion(version)}`;
}
