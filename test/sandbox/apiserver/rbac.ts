/**
 * Authorization for the sandbox: user `admin` may do everything; any other user may do everything
 * except what `.sandbox/rbac.json` denies. The file is re-read on every check so tests can change
 * it while the sandbox runs. Format:
 * `{"deny":[{"user":"restricted","verb":"create","resource":"pods","subresource":"portforward"}]}`;
 * a rule field left out matches anything (also `group`, `namespace`, `name`); `"*"` matches anything.
 */
import { readFileSync } from 'node:fs';
import { forbidden, type ApiError } from './status.ts';

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

/** True when the request is allowed. */
export function isAllowed(rbacPath: string, attrs: AccessAttributes): boolean {
  if (attrs.user === 'admin') return true;
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
