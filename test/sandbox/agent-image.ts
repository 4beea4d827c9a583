/**
 * The sandbox's copy of the agent image: the OCI archive of the release build (test/release/
 * release-build.ts, cached by its inputs, so `npm test` builds it once), hard-linked into
 * `.sandbox/images/`, where images.json's `ghcr.io/kubectl-mirrord/agent` entry pulls it from. So
 * every agent in the sandbox runs the image users get, and a broken image fails the tests.
 */
import { copyFileSync, linkSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { imageArchiveName } from '../../scripts/release/platforms.ts';
import { releaseBuild } from '../release/release-build.ts';

/** The staged archive's name (images.json refers to it). */
export const AGENT_IMAGE_FILE = 'kubectl-mirrord-agent_oci.tar';

/** Builds the image if its inputs changed, and stages it in `imagesDir`; returns the staged path. */
export function stageAgentImage(imagesDir: string): string {
  const { dir, version } = releaseBuild();
  const source = join(dir, imageArchiveName(version));
  const staged = join(imagesDir, AGENT_IMAGE_FILE);
  mkdirSync(imagesDir, { recursive: true });
  rmSync(staged, { force: true });
  try {
    linkSync(source, staged);
  } catch {
    copyFileSync(source, staged);
  }
  return staged;
}
