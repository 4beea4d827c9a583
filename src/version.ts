/**
 * The product's version, from package.json: the CLI, the agent and the default agent image tag all
 * carry this one number. Imported as JSON (not read from disk at run time) so a bundle or a single
 * executable carries it too.
 */
import pkg from '../package.json' with { type: 'json' };

/** The version of this build, e.g. `0.1.0`. */
export const VERSION: string = pkg.version;

/** The CLI's name in HELLO, for the agent's log. */
export const CLI_NAME = `kubectl-mirrord/${VERSION}`;

/** The agent's name in WELCOME: the CLI compares its version with its own. */
export const AGENT_NAME = `kubectl-mirrord-agent/${VERSION}`;

/** Where agent images are published. */
export const AGENT_IMAGE_REPOSITORY = 'ghcr.io/kubectl-mirrord/agent';

/** The image this version uses unless `--agent-image` says otherwise: a CLI talks to the agent it was released with. */
export const DEFAULT_AGENT_IMAGE = `${AGENT_IMAGE_REPOSITORY}:${VERSION}`;
