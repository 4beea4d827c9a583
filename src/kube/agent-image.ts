/**
 * The agent's container image. The default tag is the CLI's own version, so a CLI always talks to
 * the agent it was released with (mirrord's users hit CLI/agent version mismatches often).
 */
import { CLI_VERSION } from '../cli/version.ts';

/** Where agent images are published. */
export const AGENT_IMAGE_REPOSITORY = 'ghcr.io/kubectl-mirrord/agent';

/** The image this CLI version uses unless `--agent-image` says otherwise. */
export const DEFAULT_AGENT_IMAGE = `${AGENT_IMAGE_REPOSITORY}:${CLI_VERSION}`;

/**
 * The agent image's entrypoint: Node and the bundled agent (scripts/release/agent-image.ts builds
 * the image around it). The Job fallback replaces the entrypoint with a shell step that ends in it.
 */
export const AGENT_IMAGE_ENTRYPOINT: readonly string[] = ['/usr/local/bin/node', '/opt/kubectl-mirrord/agent.mjs'];
