/**
 * `?watch=true`: a chunked HTTP response of newline-delimited `{"type","object"}` events, as
 * kube-apiserver streams them (k8s.io/apiserver/pkg/endpoints/handlers/watch.go). A watch without a
 * resourceVersion (or "0") starts with ADDED events for the current objects; one with a
 * resourceVersion replays the changes after it, or sends an ERROR event with a 410 Expired Status
 * when history no longer reaches back that far.
 */
import type { ServerResponse } from 'node:http';
import type { KObject } from '../contract.ts';
import type { ResourceInfo } from './resources.ts';
import { parseFieldSelector, parseLabelSelector } from './selectors.ts';
import { ApiError } from './status.ts';
import type { ObjectStore, StoreEvent } from './store.ts';
import { toTable } from './tables.ts';

/** Kube-apiserver's --min-request-timeout default: the longest a watch runs without timeoutSeconds. */
const DEFAULT_WATCH_SECONDS = 1800;
const BOOKMARK_INTERVAL_MS = 60_000;

/** What one watch asks for. */
export interface WatchRequest {
  resource: ResourceInfo;
  namespace: string | undefined;
  /** The object name when the URL names one (`/pods/x?watch=true`). */
  name: string | undefined;
  query: URLSearchParams;
  asTable: boolean;
}

function eventLine(type: string, object: unknown): string {
  return `${JSON.stringify({ type, object })}\n`;
}

/**
 * The event a filtered watch sees (k8s.io/apiserver/pkg/storage/cacher, filterWithAttrsFunction):
 * an object that stops matching the selectors is DELETED for this watcher, one that starts
 * matching is ADDED; undefined when the watcher sees nothing.
 */
function filteredType(event: StoreEvent, matches: (obj: KObject) => boolean): string | undefined {
  const now = matches(event.object);
  if (event.type !== 'MODIFIED' || !event.previous) return now ? event.type : undefined;
  const before = matches(event.previous);
  if (before && now) return 'MODIFIED';
  if (before) return 'DELETED';
  return now ? 'ADDED' : undefined;
}

/** Streams a watch on `res` until the timeout, the client going away or `res` failing. */
export function serveWatch(store: ObjectStore, req: WatchRequest, res: ServerResponse): void {
  const labels = parseLabelSelector(req.query.get('labelSelector'));
  const fields = parseFieldSelector(req.query.get('fieldSelector'));
  const matches = (obj: KObject): boolean =>
    (req.namespace === undefined || obj.metadata.namespace === req.namespace)
    && (req.name === undefined || obj.metadata.name === req.name) && labels(obj) && fields(obj);
  const render = (obj: KObject): unknown => (req.asTable ? toTable(req.resource, [obj], obj.metadata.resourceVersion, 'Object') : obj);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  res.flushHeaders();

  const rvParam = req.query.get('resourceVersion') ?? '';
  let backlog: StoreEvent[] = [];
  if (rvParam === '' || rvParam === '0') {
    backlog = store.list(req.resource.plural, req.namespace).map((object) => ({ resourceVersion: Number(object.metadata.resourceVersion), resource: req.resource.plural, type: 'ADDED' as const, object }));
  } else {
    try {
      backlog = store.changesSince(req.resource.plural, Number(rvParam));
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      res.end(eventLine('ERROR', err.toStatus()));
      return;
    }
  }
  let lastRv = Number(rvParam) || Number(store.resourceVersion);
  const send = (event: StoreEvent): void => {
    lastRv = Math.max(lastRv, event.resourceVersion);
    const type = filteredType(event, matches);
    if (type) res.write(eventLine(type, render(event.object)));
  };
  backlog.forEach(send);
  const unsubscribe = store.subscribe((event) => {
    if (event.resource === req.resource.plural) send(event);
  });
  const bookmarks = req.query.get('allowWatchBookmarks') === 'true'
    ? setInterval(() => res.write(eventLine('BOOKMARK', { kind: req.resource.kind, apiVersion: req.resource.group ? `${req.resource.group}/${req.resource.version}` : req.resource.version, metadata: { resourceVersion: String(lastRv) } })), BOOKMARK_INTERVAL_MS)
    : undefined;
  const seconds = Number(req.query.get('timeoutSeconds') ?? DEFAULT_WATCH_SECONDS);
  const timer = setTimeout(() => res.end(), Math.max(0, seconds) * 1000);
  const stop = (): void => {
    unsubscribe();
    clearTimeout(timer);
    if (bookmarks) clearInterval(bookmarks);
  };
  res.on('close', stop);
  res.on('finish', stop);
}
