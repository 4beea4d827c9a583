/**
 * The `--target` syntax, as mirrord writes it: `KIND/NAME`, optionally followed by
 * `/container/CONTAINER`. Pure: parsing and formatting only; `target-resolve.ts` finds the pod.
 */
import { UsageError } from '../errors.ts';

/** The workload kinds a target may name. */
export type TargetKind = 'pod' | 'deployment' | 'statefulset' | 'replicaset' | 'job' | 'cronjob' | 'rollout';

/** A parsed `--target`. */
export interface TargetSpec {
  kind: TargetKind;
  name: string;
  /** Undefined: the pod's only container, or its first one (see target-resolve.ts). */
  container: string | undefined;
  /** The text as given, for messages. */
  text: string;
}

/**
 * Every spelling accepted for a kind: kubectl's singular, plural and short names
 * (`kubectl api-resources`: po, deploy, sts, rs, cj; Job has no short name).
 */
const KIND_ALIASES: Record<string, TargetKind> = {
  pod: 'pod', pods: 'pod', po: 'pod',
  deployment: 'deployment', deployments: 'deployment', deploy: 'deployment',
  statefulset: 'statefulset', statefulsets: 'statefulset', sts: 'statefulset',
  replicaset: 'replicaset', replicasets: 'replicaset', rs: 'replicaset',
  job: 'job', jobs: 'job',
  cronjob: 'cronjob', cronjobs: 'cronjob', cj: 'cronjob',
  // Argo Rollouts' names (its CRD: rollouts, rollout, shortName ro).
  rollout: 'rollout', rollouts: 'rollout', ro: 'rollout',
};

/** The accepted forms, for messages and --help. */
export const TARGET_FORMS = 'pod/NAME, deployment/NAME, statefulset/NAME, replicaset/NAME, job/NAME, cronjob/NAME or rollout/NAME (also deploy, sts, rs, cj, ro), each optionally followed by /container/NAME';

/** A DNS-1123 subdomain (object names) and label (container names), as Kubernetes validates them. */
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function bad(text: string, why: string, source: string): UsageError {
  return new UsageError('ETARGET', `invalid ${source} '${text}': ${why}`, { hint: `${source} accepts ${TARGET_FORMS}` });
}

/**
 * Parses a target.
 * @param source how it was given, for messages: `--target` or `target` (the config file's field).
 * @throws UsageError ETARGET naming the part that is wrong and the accepted forms.
 */
export function parseTarget(text: string, source = '--target'): TargetSpec {
  const parts = text.trim().split('/');
  if (parts.length !== 2 && parts.length !== 4) {
    throw bad(text, parts.length === 1 ? 'a target needs a kind, as in pod/NAME' : 'expected KIND/NAME or KIND/NAME/container/CONTAINER', source);
  }
  const kind = KIND_ALIASES[parts[0].toLowerCase()];
  if (!kind) throw bad(text, `unknown kind '${parts[0]}'`, source);
  const name = parts[1];
  if (name.length > 253 || !SUBDOMAIN.test(name)) throw bad(text, `'${name}' is not a valid ${kind} name (lowercase letters, digits, '-' and '.')`, source);
  let container: string | undefined;
  if (parts.length === 4) {
    if (parts[2] !== 'container') throw bad(text, `expected 'container' after ${parts[0]}/${name}/, got '${parts[2]}'`, source);
    container = parts[3];
    if (container.length > 63 || !LABEL.test(container)) throw bad(text, `'${container}' is not a valid container name`, source);
  }
  return { kind, name, container, text };
}

/** `deployment/web` or `pod/web-1/container/app`: the form `--target` accepts. */
export function formatTarget(kind: TargetKind, name: string, container?: string): string {
  return `${kind}/${name}${container === undefined ? '' : `/container/${container}`}`;
}
