/**
 * The object store: objects by resource (group/resource), namespace and name, one global
 * resourceVersion counter (as etcd's revision), and a bounded log of changes for watches
 * that resume from a resourceVersion.
 */
import type { KubeObject, StoreEvent, WatchEventType } from './types.js';
import { clone } from './util.js';

const LOG_LIMIT = 50_000;

function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

export class Store {
  private rv = 1000;
  private readonly data = new Map<string, Map<string, KubeObject>>();
  private readonly log: StoreEvent[] = [];
  private readonly listeners = new Set<(e: StoreEvent) => void>();

  currentResourceVersion(): number {
    return this.rv;
  }

  /** The oldest resourceVersion a watch can still resume from. */
  oldestResumableVersion(): number {
    return this.log.length > 0 ? (this.log[0]?.resourceVersion ?? this.rv) - 1 : this.rv;
  }

  get(resourceKey: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return clone(this.data.get(resourceKey)?.get(objectKey(namespace, name)));
  }

  /** Objects of one resource, in one namespace or all, sorted by namespace then name. */
  list(resourceKey: string, namespace?: string): KubeObject[] {
    const objects = [...(this.data.get(resourceKey)?.values() ?? [])].filter(
      (o) => namespace === undefined || o.metadata.namespace === namespace,
    );
    objects.sort((a, b) =>
      objectKey(a.metadata.namespace, a.metadata.name ?? '').localeCompare(
        objectKey(b.metadata.namespace, b.metadata.name ?? ''),
      ),
    );
    return objects.map((o) => clone(o));
  }

  resourceKeys(): string[] {
    return [...this.data.keys()];
  }

  /** Stores the object with a fresh resourceVersion; returns the stored copy. */
  write(resourceKey: string, object: KubeObject): KubeObject {
    const name = object.metadata.name ?? '';
    const map = this.data.get(resourceKey) ?? new Map<string, KubeObject>();
    this.data.set(resourceKey, map);
    const key = objectKey(object.metadata.namespace, name);
    const previous = map.get(key);
    const rv = ++this.rv;
    const stored = clone(object);
    stored.metadata.resourceVersion = String(rv);
    map.set(key, stored);
    this.record(previous ? 'MODIFIED' : 'ADDED', resourceKey, stored, previous, rv);
    return clone(stored);
  }

  /** Removes the object; the DELETED event carries it with the deletion's resourceVersion. */
  remove(resourceKey: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const map = this.data.get(resourceKey);
    const previous = map?.get(objectKey(namespace, name));
    if (!map || !previous) return undefined;
    map.delete(objectKey(namespace, name));
    const rv = ++this.rv;
    const gone = clone(previous);
    gone.metadata.resourceVersion = String(rv);
    this.record('DELETED', resourceKey, gone, previous, rv);
    return clone(gone);
  }

  /** Changes after `resourceVersion` for one resource; undefined when the log no longer reaches back. */
  eventsSince(resourceVersion: number, resourceKey: string): StoreEvent[] | undefined {
    if (resourceVersion < this.oldestResumableVersion()) return undefined;
    return this.log.filter((e) => e.resourceVersion > resourceVersion && e.resourceKey === resourceKey);
  }

  /**
   * Forgets the change log, as etcd compaction does: a watch resuming from any earlier
   * resourceVersion then gets 410 Gone (type ERROR, reason Expired) and must re-list.
   */
  compact(): void {
    this.log.length = 0;
  }

  subscribe(listener: (e: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private record(
    type: WatchEventType,
    resourceKey: string,
    object: KubeObject,
    previous: KubeObject | undefined,
    resourceVersion: number,
  ): void {
    const event: StoreEvent = { type, resourceKey, object, previous, resourceVersion };
    this.log.push(event);
    if (this.log.length > LOG_LIMIT) this.log.splice(0, this.log.length - LOG_LIMIT);
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // a listener's failure must not break the write
      }
    }
  }
}
