/**
 * Authorization for the sandbox: user `admin` may do everything; ServiceAccounts
 * (`system:serviceaccount:NS:NAME`, from their tokens) may do only what RBAC objects grant them
 * (Roles and ClusterRoles through RoleBindings and ClusterRoleBindings, as the RBAC authorizer
 * decides: https://kubernetes.io/docs/reference/access-authn-authz/rbac/); any other user may do
 * everything except what `.sandbox/rbac.json` denies (which also applies to ServiceAccounts). The file is re-read on every check so tests can change
 * it while the sandbox runs. Format:
 * `{"deny":[{"user":"restricted","verb":"create","resource":"pods","subresource":"portforward"}]}`;
 * a rule field left out matches anything (also `group`, `namespace`, `name`); `"*"` matches anything.
 */
import { readFileSync } from 'node:fs';
import type { KObject } from '../contract.ts';
import { forbidden, type ApiError } from './status.ts';

/** Where RBAC objects are read from. */
export interface RbacObjects {
  list(resource: string, namespace?: string): KObject[];
  get(resource: string, namespace: string | undefined, name: string): KObject | undefined;
}

/** The attributes an authorizer sees (k8s.io/apiserver/pkg/authorization/authorizer.Attributes). */
export interface AccessAttributes {
  user: string;
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

interface DenyRule {
  user?: string;
  verb?: string;
  group?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

function readRules(rbacPath: string): DenyRule[] {
  try {
    const parsed = JSON.parse(readFileSync(rbacPath, 'utf8')) as { deny?: DenyRule[] };
    return Array.isArray(parsed.deny) ? parsed.deny : [];
  } catch {
    return [];
  }
}

function fieldMatches(rule: string | undefined, value: string | undefined): boolean {
  return rule === undefined || rule === '*' || rule === (value ?? '');
}

const SA_PREFIX = 'system:serviceaccount:';

/** One PolicyRule against the request: verbs, apiGroups, resources (`pods/log` for a subresource), resourceNames. */
function ruleGrants(rule: any, attrs: AccessAttributes): boolean {
  const has = (list: string[] | undefined, value: string) => (list ?? []).includes('*') || (list ?? []).includes(value);
  const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  if (!has(rule.verbs, attrs.verb) || !has(rule.apiGroups, attrs.group) || !has(rule.resources, resource)) return false;
  const names: string[] = rule.resourceNames ?? [];
  // resourceNames limits a rule to named objects; a request without a name (list, create) never matches it.
  return names.length === 0 || (attrs.name !== undefined && names.includes(attrs.name));
}

function subjectIs(binding: KObject, namespace: string, name: string): boolean {
  return ((binding.subjects ?? []) as any[]).some((s) => s.kind === 'ServiceAccount' && s.name === name && (s.namespace ?? binding.metadata.namespace) === namespace);
}

function roleRules(objects: RbacObjects, ref: any, bindingNamespace: string | undefined): any[] {
  const role = ref?.kind === 'ClusterRole' ? objects.get('clusterroles', undefined, ref.name) : objects.get('roles', bindingNamespace, ref?.name);
  return (role?.rules ?? []) as any[];
}

/** What the RBAC objects grant a ServiceAccount. */
export function rbacGrants(objects: RbacObjects, attrs: AccessAttributes): boolean {
  const [namespace, name] = attrs.user.slice(SA_PREFIX.length).split(':');
  const granted = (binding: KObject, scope: string | undefined) => subjectIs(binding, namespace, name) && roleRules(objects, binding.roleRef, scope).some((r) => ruleGrants(r, attrs));
  if (objects.list('clusterrolebindings').some((b) => granted(b, undefined))) return true;
  // A RoleBinding grants only inside its own namespace.
  return attrs.namespace !== undefined && objects.list('rolebindings', attrs.namespace).some((b) => granted(b, attrs.namespace));
}

/** True when the request is allowed. `objects` holds the RBAC objects (ServiceAccounts need it). */
export function isAllowed(rbacPath: string, attrs: AccessAttributes, objects?: RbacObjects): boolean {
  if (attrs.user === 'admin') return true;
  if (attrs.user.startsWith(SA_PREFIX) && !(objects && rbacGrants(objects, attrs))) return false;
  return !readRules(rbacPath).some((rule) =>
    fieldMatches(rule.user, attrs.user) && fieldMatches(rule.verb, attrs.verb) && fieldMatches(rule.group, attrs.group)
    && fieldMatches(rule.resource, attrs.resource) && fieldMatches(rule.subresource, attrs.subresource)
    && fieldMatches(rule.namespace, attrs.namespace) && fieldMatches(rule.name, attrs.name));
}

/**
 * The 403 kube-apiserver sends (k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go
 * ForbiddenStatusError): `pods "x" is forbidden: User "u" cannot create resource "pods/portforward"
 * in API group "" in the namespace "default"`.
 */
export function forbiddenError(attrs: AccessAttributes): ApiError {
  const qualified = attrs.group ? `${attrs.resource}.${attrs.group}` : attrs.resource;
  const subject = attrs.name ? `${qualified} "${attrs.name}"` : qualified;
  const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  const scope = attrs.namespace ? `in the namespace "${attrs.namespace}"` : 'at the cluster scope';
  const message = `${subject} is forbidden: User "${attrs.user}" cannot ${attrs.verb} resource "${resource}" in API group "${attrs.group}" ${scope}`;
  return forbidden(message, attrs.name, attrs.resource, attrs.group);
}
