/**
 * Discovery documents in the legacy (unaggregated) form: /api, /api/v1, /apis, /apis/<g>/<v> and
 * /version. kubectl asks for the aggregated form (apidiscovery.k8s.io/v2) first and falls back to
 * these when the answer's Content-Type is plain application/json (client-go discovery client,
 * `isV2Beta1ContentType`/`isV2ContentType`).
 */
import { KUBE_VERSION } from './constants.ts';
import { GROUPS, RESOURCES, type ResourceInfo } from './resources.ts';

function apiResources(r: ResourceInfo): object[] {
  const main: Record<string, unknown> = {
    name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: r.verbs,
  };
  if (r.shortNames) main.shortNames = r.shortNames;
  if (r.categories) main.categories = r.categories;
  const subs = r.subresources.map((s) => ({ name: `${r.plural}/${s.name}`, singularName: '', namespaced: r.namespaced, kind: s.kind, verbs: s.verbs }));
  return [main, ...subs];
}

/** The APIResourceList at /api/v1 or /apis/<group>/<version>, or undefined for an unknown one. */
export function resourceList(group: string, version: string): object | undefined {
  const resources = RESOURCES.filter((r) => r.group === group && r.version === version);
  if (resources.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources: resources.flatMap(apiResources),
  };
}

/** /api */
export function apiVersions(serverAddress: string): object {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function groupEntry(group: string): object {
  const version = RESOURCES.find((r) => r.group === group)?.version ?? 'v1';
  const gv = { groupVersion: `${group}/${version}`, version };
  return { name: group, versions: [gv], preferredVersion: gv };
}

/** /apis */
export function apiGroupList(): object {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: GROUPS.map(groupEntry) };
}

/** /apis/<group> */
export function apiGroup(group: string): object | undefined {
  if (!GROUPS.includes(group)) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(group) };
}

/** /version */
export function versionInfo(): object {
  return { ...KUBE_VERSION };
}
