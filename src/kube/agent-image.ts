/**
 * The agent's container image. The default tag is the CLI's own version, so a CLI always talks to
 * the agent it was released with (mirrord's users hit CLI/agent version mismatches often).
 */
import { AGENT_IMAGE_REPOSITORY, DEFAULT_AGENT_IMAGE } from '../version.ts';
import { UsageError } from '../errors.ts';

export { AGENT_IMAGE_REPOSITORY, DEFAULT_AGENT_IMAGE };

/** A container's imagePullPolicy (Kubernetes core/v1 Container). */
export const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'] as const;
export type PullPolicy = typeof PULL_POLICIES[number];

/**
 * How the agent's pod pulls its image: clusters behind a registry mirror or with a private
 * registry need a pull policy and pull secrets (mirrord's agent.image_pull_policy and
 * agent.image_pull_secrets). Unset policy: the cluster's default (IfNotPresent for a version tag).
 */
export interface AgentImagePull {
  policy: PullPolicy | undefined;
  /** Names of Secrets of type kubernetes.io/dockerconfigjson in the agent's namespace. */
  secrets: string[];
}

/** Checks a pull policy, accepting any letter case (`ifnotpresent`); undefined passes through. */
export function parsePullPolicy(text: string | undefined, source: string): PullPolicy | undefined {
  if (text === undefined) return undefined;
  const policy = PULL_POLICIES.find((p) => p.toLowerCase() === text.toLowerCase());
  if (!policy) throw new UsageError('EPULLPOLICY', `${source} is '${text}', which is not an image pull policy`, { hint: `use one of ${PULL_POLICIES.join(', ')}` });
  return policy;
}

/** Checks Secret names (DNS-1123 subdomains, as Kubernetes requires of object names). */
export function parsePullSecrets(names: string[], source: string): string[] {
  for (const name of names) {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(name) || name.length > 253) {
      throw new UsageError('EPULLSECRET', `${source} '${name}' is not a Secret name`, { hint: 'a Secret name is lower-case letters, digits, - and . (e.g. regcred)' });
    }
  }
  return [...new Set(names)];
}

/**
 * The one warning for an agent whose version differs from the CLI's (mirrord prints the same), or
 * undefined when they match. `agentName` is the WELCOME's `kubectl-mirrord-agent/<version>`.
 */
export function agentVersionWarning(agentName: string, cliVersion: string, image: string): string | undefined {
  const agentVersion = agentName.includes('/') ? agentName.slice(agentName.lastIndexOf('/') + 1) : undefined;
  if (agentVersion === cliVersion) return undefined;
  return `the agent (${agentName}, image ${image}) is version ${agentVersion ?? 'unknown'} but this CLI is ${cliVersion}; ` +
    `this may lead to unexpected errors: use --agent-image ${DEFAULT_AGENT_IMAGE} or a CLI of the agent's version`;
}

/**
 * The agent image's entrypoint: Node and the bundled agent (scripts/release/agent-image.ts builds
 * the image around it). The Job fallback replaces the entrypoint with a shell step that ends in it.
 */
export const AGENT_IMAGE_ENTRYPOINT: readonly string[] = ['/usr/local/bin/node', '/opt/kubectl-mirrord/agent.mjs'];
