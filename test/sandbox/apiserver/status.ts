/**
 * Kubernetes `Status` errors, worded as kube-apiserver words them
 * (k8s.io/apimachinery/pkg/api/errors/errors.go: NewNotFound, NewAlreadyExists, NewConflict, ...).
 */

/** The `details` block of a Status. */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: Array<{ reason: string; message: string; field: string }>;
  retryAfterSeconds?: number;
}

/** An error the HTTP layer turns into a `Status` response with `code` as the HTTP status. */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: StatusDetails | undefined;

  constructor(code: number, reason: string, message: string, details?: StatusDetails) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  /** The body kube-apiserver sends for this error. */
  toStatus(): Record<string, unknown> {
    const status: Record<string, unknown> = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details) status.details = this.details;
    return status;
  }
}

/** `resource` is the plural with group, as upstream prints it: `pods`, `deployments.apps`. */
export function notFound(resource: string, name: string, group = ''): ApiError {
  const qualified = group ? `${resource}.${group}` : resource;
  return new ApiError(404, 'NotFound', `${qualified} "${name}" not found`, { name, group: group || undefined, kind: resource });
}

/** 409 AlreadyExists: `pods "x" already exists`. */
export function alreadyExists(resource: string, name: string, group = ''): ApiError {
  const qualified = group ? `${resource}.${group}` : resource;
  return new ApiError(409, 'AlreadyExists', `${qualified} "${name}" already exists`, { name, group: group || undefined, kind: resource });
}

/** 409 Conflict for a stale resourceVersion, worded as upstream. */
export function conflict(resource: string, name: string, group = ''): ApiError {
  const qualified = group ? `${resource}.${group}` : resource;
  const message = `Operation cannot be fulfilled on ${qualified} "${name}": the object has been modified; please apply your changes to the latest version and try again`;
  return new ApiError(409, 'Conflict', message, { name, group: group || undefined, kind: resource });
}

/** A field error for `invalid`: reason is FieldValueRequired, FieldValueInvalid, ... */
export interface FieldError {
  type: 'FieldValueRequired' | 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueNotSupported' | 'FieldValueDuplicate' | 'FieldValueTooLong';
  field: string;
  /** Upstream's text after the field, e.g. `Required value` or `Invalid value: "X": a lowercase ...`. */
  detail: string;
}

/** 422 Invalid, with the message `Kind "name" is invalid: [field: detail, ...]` as upstream joins it. */
export function invalid(kind: string, name: string, errors: FieldError[], group = ''): ApiError {
  const parts = errors.map((e) => `${e.field}: ${e.detail}`);
  const joined = parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
  const qualifiedKind = group ? `${kind}.${group}` : kind;
  return new ApiError(422, 'Invalid', `${qualifiedKind} "${name}" is invalid: ${joined}`, {
    name,
    group: group || undefined,
    kind,
    causes: errors.map((e) => ({ reason: e.type, message: e.detail, field: e.field })),
  });
}

/** 400 BadRequest with `message`. */
export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

/** 405 MethodNotAllowed. */
export function methodNotAllowed(): ApiError {
  return new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
}

/** 403 Forbidden with a fully worded `message`. */
export function forbidden(message: string, name: string | undefined, kind: string, group = ''): ApiError {
  return new ApiError(403, 'Forbidden', message, { name, group: group || undefined, kind });
}

/** 401 Unauthorized (no or unknown bearer token). */
export function unauthorized(): ApiError {
  return new ApiError(401, 'Unauthorized', 'Unauthorized');
}

/** 410 Expired: a watch resourceVersion older than the history. */
export function gone(message: string): ApiError {
  return new ApiError(410, 'Expired', message);
}
