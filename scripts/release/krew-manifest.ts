/**
 * The krew plugin manifest (`krew.googlecontainertools.github.com/v1alpha2` Plugin, krew
 * pkg/index/types.go). The plugin is `mirrord`, so krew links `kubectl-mirrord` and the command is
 * `kubectl mirrord`. One platform per archive, each selected by exactly one os/arch pair, so no
 * pair matches two platforms (validate-krew-manifest's overlap check). The same file works for a
 * custom index (`plugins/mirrord.yaml`) and for `kubectl krew install --manifest=... --archive=...`.
 */
import { dump } from 'js-yaml';
import { archiveMembers, archiveName, EXECUTABLE, type ReleasePlatform } from './platforms.ts';
import { krewVersion } from './version.ts';

export const KREW_API_VERSION = 'krew.googlecontainertools.github.com/v1alpha2';
export const PLUGIN_NAME = 'mirrord';
/** The source repository (the image's org.opencontainers.image.source label says the same). */
export const SOURCE_URL = 'https://github.com/kubectl-mirrord/kubectl-mirrord';

/**
 * Where the archives are downloaded from: `<base>/<archive name>`. KUBECTL_MIRRORD_RELEASE_URL
 * overrides it; `{version}` in it becomes the version.
 */
export function releaseBaseUrl(version: string, env: NodeJS.ProcessEnv = process.env): string {
  const base = env.KUBECTL_MIRRORD_RELEASE_URL || `${SOURCE_URL}/releases/download/v{version}`;
  return base.replace(/\{version\}/g, version).replace(/\/+$/, '');
}

export interface ArchiveDigest { platform: ReleasePlatform; sha256: string }

export function krewManifest(version: string, archives: ArchiveDigest[], baseUrl: string): string {
  const manifest = {
    apiVersion: KREW_API_VERSION,
    kind: 'Plugin',
    metadata: { name: PLUGIN_NAME },
    spec: {
      version: krewVersion(version),
      homepage: SOURCE_URL,
      shortDescription: 'Reach into a cluster: port-forward, SOCKS5, steal',
      description: [
        'Work against a Kubernetes cluster as if your machine were inside it:',
        'port-forward -L to any address the cluster can reach, a SOCKS5 server,',
        'and -R to mirror or steal a pod\'s incoming traffic to a local port.',
        'One multiplexed session per command to a small agent in the cluster.',
      ].join('\n'),
      caveats: [
        'The agent runs as a Job or an ephemeral container in the cluster, from',
        `the image ghcr.io/kubectl-mirrord/agent:${version}. -R --steal needs the`,
        'NET_ADMIN capability for the agent; see the README.',
      ].join('\n'),
      platforms: archives.map(({ platform, sha256 }) => ({
        selector: { matchLabels: { os: platform.os, arch: platform.arch } },
        uri: `${baseUrl}/${archiveName(version, platform)}`,
        sha256,
        files: archiveMembers(platform).filter((m) => m.path !== 'README.md').map((m) => ({ from: m.path, to: '.' })),
        bin: EXECUTABLE,
      })),
    },
  };
  return dump(manifest, { lineWidth: -1, noRefs: true });
}
