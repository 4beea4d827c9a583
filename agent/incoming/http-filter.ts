/**
 * The HTTP filter of a filtered steal: which requests the user's app gets. Header and path are
 * JavaScript regexes matched case-insensitively, as in mirrord's `http_filter`: the header regex
 * against each header line as `Name: value`, the path regex against the request's path and
 * against its path with the query (either match counts). With both set, a request must match
 * both. The filter applies to `ports` only (default 80 and 8080); other subscribed ports are
 * stolen whole (mirrord's docs for `http_filter.ports`: "Other ports will still be stolen,
 * they're just not checked for HTTP filtering").
 */

import { DEFAULT_HTTP_FILTER_PORTS, type HttpFilterBody } from '../../src/protocol/requests.ts';

/** A filter as the portSubscribe request carries it. */
export type HttpFilterSpec = HttpFilterBody;

/** What the filter looks at in one request. */
export interface RequestFacts {
  /** The request target as sent: origin form (`/a?b`) or absolute form (`http://h/a?b`). */
  target: string;
  /** Header lines in order, names as sent. */
  headers: Array<[name: string, value: string]>;
}

/** Thrown when a filter field is not acceptable; `field` names it (filter.header, ...). */
export class FilterSpecError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.name = 'FilterSpecError';
    this.field = field;
  }
}

export class HttpFilter {
  readonly header: RegExp | undefined;
  readonly path: RegExp | undefined;
  readonly ports: ReadonlySet<number>;

  /** Compiles `spec`. Throws FilterSpecError naming the field and the regex engine's message. */
  constructor(spec: HttpFilterSpec) {
    this.header = compile('filter.header', spec.header);
    this.path = compile('filter.path', spec.path);
    if (!this.header && !this.path) {
      throw new FilterSpecError('filter', 'the filter needs a header or a path regex (or leave the filter out to steal everything)');
    }
    const ports = spec.ports ?? DEFAULT_HTTP_FILTER_PORTS;
    if (!Array.isArray(ports) || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
      throw new FilterSpecError('filter.ports', `filter.ports must be a list of TCP ports (1-65535), got ${JSON.stringify(spec.ports)}`);
    }
    this.ports = new Set(ports);
  }

  /** Whether the filter applies to connections on `port` (otherwise the port is stolen whole). */
  appliesTo(port: number): boolean {
    return this.ports.has(port);
  }

  /** Whether the request goes to the user's app. */
  matches(request: RequestFacts): boolean {
    if (this.header) {
      const re = this.header;
      if (!request.headers.some(([name, value]) => re.test(`${name}: ${value}`))) return false;
    }
    if (this.path) {
      const { path, pathWithQuery } = splitTarget(request.target);
      if (!this.path.test(path) && !this.path.test(pathWithQuery)) return false;
    }
    return true;
  }
}

function compile(field: string, source: unknown): RegExp | undefined {
  if (source === undefined) return undefined;
  if (typeof source !== 'string' || source.length === 0) {
    throw new FilterSpecError(field, `${field} must be a non-empty regex source string, got ${JSON.stringify(source)}`);
  }
  try {
    return new RegExp(source, 'i');
  } catch (err) {
    throw new FilterSpecError(field, `${field} is not a valid JavaScript regex: ${(err as Error).message}`);
  }
}

/** The path of a request target, without and with its query. */
export function splitTarget(target: string): { path: string; pathWithQuery: string } {
  let pathWithQuery = target;
  if (!target.startsWith('/')) {
    // Absolute form (RFC 9112 section 3.2.2): scheme://authority/path?query.
    const m = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*([^#]*)/i.exec(target);
    pathWithQuery = m ? (m[1] || '/') : target;
  }
  const hash = pathWithQuery.indexOf('#');
  if (hash >= 0) pathWithQuery = pathWithQuery.slice(0, hash);
  const q = pathWithQuery.indexOf('?');
  return { path: q >= 0 ? pathWithQuery.slice(0, q) : pathWithQuery, pathWithQuery };
}
