/**
 * The target half of a forwarding plan: `--target`, `--agent-mode`, `-R`, `--steal`, and what the
 * config file says about them (flags override the file). Pure, so every combination is unit tested.
 *
 * With a target, `-n` is the target's namespace (as in mirrord) and `-a` the namespace of a Job
 * fallback agent; an ephemeral agent always lives in the target pod.
 */
import type { FileConfig } from '../config/config-schema.ts';
import { UsageError } from '../errors.ts';
import type { ReversePlan } from '../forward/reverse-spec.ts';
import { parseReverseSpecs } from '../forward/reverse-spec.ts';
import type { AgentMode } from '../kube/targeted-agent.ts';
import { parseTarget, TARGET_FORMS, type TargetSpec } from '../kube/target-spec.ts';
import type { CopyTargetPlan } from '../kube/copy-target.ts';
import { checkScaleDownKind } from '../kube/scale-down.ts';

/** The flags this file reads. */
export interface RawTargetingFlags {
  remote?: string[];
  steal?: boolean;
  target?: string;
  agentMode?: string;
  namespace?: string;
  agentNamespace?: string;
  copyTarget?: boolean;
  scaleDown?: boolean;
}

export interface Targeting {
  target: TargetSpec;
  /** The target's namespace; undefined: the kubeconfig context's. */
  namespace: string | undefined;
  /** Where a Job fallback runs; undefined: the target's namespace. */
  agentNamespace: string | undefined;
  mode: AgentMode;
  reverse: ReversePlan[];
  /** copy_target: run the session against a copy of the target's pod; undefined: the target itself. */
  copy: CopyTargetPlan | undefined;
}

const AGENT_MODES: readonly string[] = ['auto', 'ephemeral', 'job'];

function agentMode(text: string | undefined): AgentMode {
  const mode = text ?? 'auto';
  if (!AGENT_MODES.includes(mode)) {
    throw new UsageError('EAGENTMODE', `invalid --agent-mode '${mode}'`, { hint: '--agent-mode accepts auto (an ephemeral container, else a Job), ephemeral, or job' });
  }
  return mode as AgentMode;
}

/** The -R plans: mode from --steal or the file, filter and port mapping from the file. */
export function reversePlans(texts: string[], steal: boolean, config: FileConfig | undefined): ReversePlan[] {
  const incoming = config?.incoming;
  const mode = steal || incoming?.mode === 'steal' ? 'steal' : 'mirror';
  // The file's filter only means something for steal (checked with the file); --steal keeps it.
  const filter = mode === 'steal' ? incoming?.httpFilter : undefined;
  return parseReverseSpecs(texts).map((spec) => ({
    remotePort: spec.remotePort,
    localPort: spec.localPort ?? incoming?.portMapping.get(spec.remotePort) ?? spec.remotePort,
    mode,
    filter,
  }));
}

/**
 * copy_target from `--copy-target`, `--scale-down` (implies a copy, as mirrord's scale_down lives
 * inside copy_target) and `feature.copy_target`; the flags add to the file.
 * @throws UsageError ESCALEDOWN for a target kind that cannot be scaled.
 */
export function copyPlan(flags: RawTargetingFlags, config: FileConfig | undefined, target: TargetSpec): CopyTargetPlan | undefined {
  const file = config?.copyTarget;
  if (!flags.copyTarget && !flags.scaleDown && !file) return undefined;
  const plan: CopyTargetPlan = {
    scaleDown: flags.scaleDown === true || file?.scaleDown === true,
    excludeContainers: file?.excludeContainers ?? [],
    excludeInitContainers: file?.excludeInitContainers ?? [],
  };
  if (plan.scaleDown) checkScaleDownKind(target, flags.scaleDown ? '--scale-down' : 'feature.copy_target.scale_down');
  return plan;
}

/**
 * The targeting part of the plan, or undefined for the targetless agent.
 * @throws UsageError: -R or --steal without a target, a bad target, a bad -R, a bad --agent-mode.
 */
export function planTargeting(flags: RawTargetingFlags, config: FileConfig | undefined): Targeting | undefined {
  const remote = flags.remote ?? [];
  const target = flags.target !== undefined ? parseTarget(flags.target) : config?.target;
  const mode = agentMode(flags.agentMode);
  if (!target) {
    if (remote.length > 0) {
      throw new UsageError('ENOTARGET', 'reverse forwarding needs a target (--target pod/NAME …)', {
        hint: `-R takes the traffic of one pod: give --target ${TARGET_FORMS} (kubectl mirrord ls lists them)`,
      });
    }
    if (flags.steal) throw new UsageError('ENOTARGET', '--steal needs -R and a target (--target pod/NAME …)', { hint: 'e.g. --target deployment/web -R 80:8080 --steal' });
    if (flags.copyTarget || flags.scaleDown || config?.copyTarget) {
      throw new UsageError('ENOTARGET', `${flags.scaleDown ? '--scale-down' : flags.copyTarget ? '--copy-target' : 'feature.copy_target'} copies a target, and no --target was given`, { hint: 'add --target deployment/NAME (kubectl mirrord ls lists them)' });
    }
    if (flags.agentMode !== undefined && flags.agentMode !== 'auto') {
      throw new UsageError('ENOTARGET', '--agent-mode chooses how a targeted agent runs, and no --target was given', { hint: 'add --target, or drop --agent-mode' });
    }
    return undefined;
  }
  if (flags.steal && remote.length === 0) throw new UsageError('ESTEAL', '--steal was given without -R', { hint: 'e.g. -R 80:8080 --steal' });
  return {
    target,
    copy: copyPlan(flags, config, target),
    namespace: flags.namespace ?? config?.targetNamespace,
    agentNamespace: flags.agentNamespace ?? config?.agentNamespace,
    mode,
    reverse: reversePlans(remote, flags.steal === true, config),
  };
}
