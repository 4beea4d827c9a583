/**
 * The agent's container image. The default tag is the CLI's own version, so a CLI always talks to
 * the agent it was released with (mirrord's users hit CLI/agent version mismatches often).
 */
import { VERSION } from '../version.ts';

/** Where agent images are published. */
export const AGENT_IMAGE_REPOSITORY = 'ghcr.io/kubectl-mirrord/agent';

/** The image this CLI version uses unless `--agent-image` says otherwise. */
export const DEFAULT_AGENT_IMAGE = `${AGENT_IMAGE_REPOSITORY}:${VERSION}`;
