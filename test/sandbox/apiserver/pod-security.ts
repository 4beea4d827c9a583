/**
 * Pod Security Admission enforcement from namespace labels (`pod-security.kubernetes.io/enforce`).
 * Checks and wording follow k8s.io/pod-security-admission/policy (check_*.go); checks run in the
 * order of their IDs, as the registry sorts them, and the message is
 * `violates PodSecurity "<level>:<version>": reason (detail), reason (detail)`.
 */
import type { KObject } from '../contract.ts';
import { forbidden, type ApiError } from './status.ts';

type Level = 'privileged' | 'baseline' | 'restricted';

interface Violation {
  reason: string;
  detail: string;
}

interface Check {
  id: string;
  level: Exclude<Level, 'privileged'>;
  /** Baseline checks replaced by a stricter restricted one. */
  overriddenInRestricted?: boolean;
  run: (spec: any) => Violation | undefined;
}

const DEFAULT_CAPABILITIES = new Set([
  'AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT',
]);

function pluralize(singular: string, plural: string, n: number): string {
  return n === 1 ? singular : plural;
}

function joinQuote(items: string[]): string {
  return items.map((i) => JSON.stringify(i)).join(', ');
}

/** containers, initContainers and ephemeralContainers, as upstream's visitContainers. */
function allContainers(spec: any): any[] {
  return [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])];
}

function containersPhrase(names: string[]): string {
  return `${pluralize('container', 'containers', names.length)} ${joinQuote(names)}`;
}

function addedCapabilities(spec: any, allowed: (cap: string) => boolean): Violation | undefined {
  const bad: string[] = [];
  const caps = new Set<string>();
  for (const c of allContainers(spec)) {
    const added: string[] = c.securityContext?.capabilities?.add ?? [];
    const forbiddenCaps = added.filter((cap) => !allowed(cap));
    forbiddenCaps.forEach((cap) => caps.add(cap));
    if (forbiddenCaps.length > 0) bad.push(c.name);
  }
  if (bad.length === 0) return undefined;
  return { reason: 'non-default capabilities', detail: `${containersPhrase(bad)} must not include ${joinQuote([...caps].sort())} in securityContext.capabilities.add` };
}

function hostPathVolumes(spec: any): string[] {
  return (spec.volumes ?? []).filter((v: any) => v.hostPath).map((v: any) => v.name);
}

const CHECKS: Check[] = [
  {
    id: 'allowPrivilegeEscalation', level: 'restricted',
    run: (spec) => {
      const bad = allContainers(spec).filter((c) => c.securityContext?.allowPrivilegeEscalation !== false).map((c) => c.name);
      return bad.length ? { reason: 'allowPrivilegeEscalation != false', detail: `${containersPhrase(bad)} must set securityContext.allowPrivilegeEscalation=false` } : undefined;
    },
  },
  { id: 'capabilities_baseline', level: 'baseline', overriddenInRestricted: true, run: (spec) => addedCapabilities(spec, (cap) => DEFAULT_CAPABILITIES.has(cap)) },
  {
    id: 'capabilities_restricted', level: 'restricted',
    run: (spec) => {
      const missingDrop = allContainers(spec).filter((c) => !(c.securityContext?.capabilities?.drop ?? []).includes('ALL')).map((c) => c.name);
      const details: string[] = [];
      if (missingDrop.length) details.push(`${containersPhrase(missingDrop)} must set securityContext.capabilities.drop=["ALL"]`);
      const adding = addedCapabilities(spec, (cap) => cap === 'NET_BIND_SERVICE');
      if (adding) details.push(adding.detail);
      return details.length ? { reason: 'unrestricted capabilities', detail: details.join('; ') } : undefined;
    },
  },
  {
    id: 'hostNamespaces', level: 'baseline',
    run: (spec) => {
      const used = ['hostIPC', 'hostNetwork', 'hostPID'].filter((f) => spec[f] === true);
      return used.length ? { reason: 'host namespaces', detail: used.join(', ') } : undefined;
    },
  },
  {
    id: 'hostPathVolumes', level: 'baseline', overriddenInRestricted: true,
    run: (spec) => {
      const names = hostPathVolumes(spec);
      return names.length ? { reason: 'hostPath volumes', detail: `${pluralize('volume', 'volumes', names.length)} ${joinQuote(names)}` } : undefined;
    },
  },
  {
    id: 'privileged', level: 'baseline',
    run: (spec) => {
      const bad = allContainers(spec).filter((c) => c.securityContext?.privileged === true).map((c) => c.name);
      return bad.length ? { reason: 'privileged', detail: `${containersPhrase(bad)} must not set securityContext.privileged=true` } : undefined;
    },
  },
  {
    id: 'restrictedVolumes', level: 'restricted',
    run: (spec) => {
      const names = hostPathVolumes(spec);
      if (!names.length) return undefined;
      const n = names.length;
      return { reason: 'restricted volume types', detail: `${pluralize('volume', 'volumes', n)} ${joinQuote(names)} ${pluralize('uses', 'use', n)} restricted volume type "hostPath"` };
    },
  },
  { id: 'runAsNonRoot', level: 'restricted', run: runAsNonRoot },
  { id: 'seccompProfile_restricted', level: 'restricted', run: seccompRestricted },
];

function runAsNonRoot(spec: any): Violation | undefined {
  const podValue = spec.securityContext?.runAsNonRoot;
  const setters: string[] = podValue === false ? ['pod'] : [];
  const explicitBad = allContainers(spec).filter((c) => c.securityContext?.runAsNonRoot === false).map((c) => c.name);
  if (explicitBad.length) setters.push(containersPhrase(explicitBad));
  if (setters.length) return { reason: 'runAsNonRoot != true', detail: `${setters.join(' and ')} must not set securityContext.runAsNonRoot=false` };
  const implicitBad = allContainers(spec).filter((c) => c.securityContext?.runAsNonRoot === undefined && podValue !== true).map((c) => c.name);
  if (implicitBad.length) return { reason: 'runAsNonRoot != true', detail: `pod or ${containersPhrase(implicitBad)} must set securityContext.runAsNonRoot=true` };
  return undefined;
}

function seccompRestricted(spec: any): Violation | undefined {
  const valid = (t: string | undefined): boolean => t === 'RuntimeDefault' || t === 'Localhost';
  const setters: string[] = [];
  const badValues = new Set<string>();
  const podProfile = spec.securityContext?.seccompProfile;
  if (podProfile && !valid(podProfile.type)) {
    setters.push('pod');
    badValues.add(podProfile.type);
  }
  const podSet = podProfile !== undefined && valid(podProfile.type);
  const explicitBad: string[] = [];
  const implicitBad: string[] = [];
  for (const c of allContainers(spec)) {
    const profile = c.securityContext?.seccompProfile;
    if (profile && !valid(profile.type)) {
      explicitBad.push(c.name);
      badValues.add(profile.type);
    } else if (!profile && !podSet) {
      implicitBad.push(c.name);
    }
  }
  if (explicitBad.length) setters.push(containersPhrase(explicitBad));
  if (setters.length) return { reason: 'seccompProfile', detail: `${setters.join(' and ')} must not set securityContext.seccompProfile.type to ${joinQuote([...badValues].sort())}` };
  if (implicitBad.length) return { reason: 'seccompProfile', detail: `pod or ${containersPhrase(implicitBad)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"` };
  return undefined;
}

/** The violations of `spec` at `level`, in upstream's order. */
export function podSecurityViolations(level: Level, spec: any): Violation[] {
  if (level === 'privileged') return [];
  return CHECKS.filter((c) => (level === 'restricted' ? !c.overriddenInRestricted : c.level === 'baseline'))
    .map((c) => c.run(spec ?? {}))
    .filter((v): v is Violation => v !== undefined);
}

/**
 * Throws the 403 kube-apiserver sends when the pod violates the namespace's enforce level, e.g.
 * `pods "x" is forbidden: violates PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)`.
 */
export function enforcePodSecurity(namespace: KObject | undefined, pod: KObject): void {
  const err = podSecurityError(namespace, pod);
  if (err) throw err;
}

/** The admission error for `pod`, or undefined when the namespace's level allows it. */
export function podSecurityError(namespace: KObject | undefined, pod: KObject): ApiError | undefined {
  const labels = namespace?.metadata.labels ?? {};
  const level = labels['pod-security.kubernetes.io/enforce'] as Level | undefined;
  if (!level || (level !== 'baseline' && level !== 'restricted')) return undefined;
  const version = labels['pod-security.kubernetes.io/enforce-version'] ?? 'latest';
  const violations = podSecurityViolations(level, pod.spec);
  if (violations.length === 0) return undefined;
  const list = violations.map((v) => `${v.reason} (${v.detail})`).join(', ');
  const name = pod.metadata.name;
  return forbidden(`pods "${name}" is forbidden: violates PodSecurity "${level}:${version}": ${list}`, name, 'pods');
}
