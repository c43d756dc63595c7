/**
 * WATCH: a chunked 200 response with one JSON event per line, written and flushed as it
 * happens. Honours resourceVersion (resume from the change log, or 410 Gone when it is too
 * old), timeoutSeconds, label/field selectors, bookmarks and sendInitialEvents.
 */
import type { ServerResponse } from 'node:http';
import { errors } from './errors.js';
import { apiVersionOf, type ResourceType, resourceKey } from './resources.js';
import type { ObjectFilter } from './selectors.js';
import type { Store } from './store.js';
import type { KubeObject, StoreEvent } from './types.js';

export interface WatchSpec {
  rt: ResourceType;
  namespace: string | undefined;
  filter: ObjectFilter;
  resourceVersion: string | undefined;
  timeoutSeconds: number | undefined;
  allowWatchBookmarks: boolean;
  sendInitialEvents: boolean;
  /** Turns an object into what the client asked for (the object itself, or a Table row). */
  render(obj: KubeObject): unknown;
}

const DEFAULT_TIMEOUT_S = 1800;
const BOOKMARK_INTERVAL_MS = 60_000;

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** Starts a watch on `res`; returns a function that ends it. */
export function serveWatch(
  store: Store,
  res: ServerResponse,
  spec: WatchSpec,
  onEnd: () => void,
): () => void {
  const key = resourceKey(spec.rt);
  const inScope = (o: KubeObject) =>
    (spec.namespace === undefined || o.metadata.namespace === spec.namespace) && spec.filter(o);

  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-cache, private',
    'Transfer-Encoding': 'chunked',
  });
  res.flushHeaders();

  const send = (type: EventType, object: unknown) => {
    if (!res.writableEnded) res.write(`${JSON.stringify({ type, object })}\n`);
  };
  const bookmark = (annotations?: Record<string, string>) =>
    send('BOOKMARK', {
      kind: spec.rt.kind,
      apiVersion: apiVersionOf(spec.rt),
      metadata: {
        resourceVersion: String(store.currentResourceVersion()),
        ...(annotations ? { annotations } : {}),
      },
    });

  let ended = false;
  const timers: NodeJS.Timeout[] = [];
  let unsubscribe = () => {};
  const end = () => {
    if (ended) return;
    ended = true;
    unsubscribe();
    for (const t of timers) clearTimeout(t);
    if (!res.writableEnded) res.end();
    onEnd();
  };

  const forward = (e: StoreEvent) => {
    if (e.resourceKey !== key) return;
    const now = e.type !== 'DELETED' && inScope(e.object);
    const before = e.previous !== undefined && e.type !== 'ADDED' && inScope(e.previous);
    if (e.type === 'DELETED') {
      if (before) send('DELETED', spec.render(e.object));
    } else if (now && before) send('MODIFIED', spec.render(e.object));
    else if (now) send('ADDED', spec.render(e.object));
    else if (before) send('DELETED', spec.render(e.object));
  };

  // Everything below runs in one synchronous turn, so no change can slip between the
  // initial state and the subscription.
  const rv = spec.resourceVersion;
  if (rv === undefined || rv === '' || rv === '0' || spec.sendInitialEvents) {
    for (const o of store.list(key, spec.namespace)) if (spec.filter(o)) send('ADDED', spec.render(o));
    if (spec.sendInitialEvents && spec.allowWatchBookmarks) bookmark({ 'k8s.io/initial-events-end': 'true' });
  } else {
    const from = Number.parseInt(rv, 10);
    const backlog = Number.isNaN(from) ? undefined : store.eventsSince(from, key);
    if (!backlog) {
      send(
        'ERROR',
        errors.gone(`too old resource version: ${rv} (${store.oldestResumableVersion() + 1})`).status,
      );
      end();
      return end;
    }
    for (const e of backlog) forward(e);
  }
  unsubscribe = store.subscribe(forward);

  timers.push(setTimeout(end, (spec.timeoutSeconds ?? DEFAULT_TIMEOUT_S) * 1000).unref());
  if (spec.allowWatchBookmarks) {
    const tick = () => {
      bookmark();
      timers.push(setTimeout(tick, BOOKMARK_INTERVAL_MS).unref());
    };
    timers.push(setTimeout(tick, BOOKMARK_INTERVAL_MS).unref());
  }
  res.on('close', end);
  return end;
}
