/**
 * Garbage collection (background propagation: dependents whose owners are all gone are
 * deleted) and the namespace controller (a terminating namespace is emptied, then removed).
 */
import { ApiError } from '../errors.js';
import { resourceKey } from '../resources.js';
import type { ControllerContext } from './context.js';

export class GarbageCollector {
  constructor(private readonly ctx: ControllerContext) {}

  reconcile(): void {
    const { api } = this.ctx;
    const uids = new Set<string>();
    for (const rt of api.resources.all)
      for (const o of api.store.list(resourceKey(rt))) if (o.metadata.uid) uids.add(o.metadata.uid);
    for (const rt of api.resources.all) {
      for (const o of api.store.list(resourceKey(rt))) {
        const refs = o.metadata.ownerReferences ?? [];
        if (refs.length === 0 || o.metadata.deletionTimestamp) continue;
        if (refs.some((r) => uids.has(r.uid))) continue;
        this.ctx.tryWrite(() => api.delete(rt, o.metadata.namespace, o.metadata.name ?? ''));
      }
    }
    this.namespaces();
  }

  private namespaces(): void {
    const { api, types } = this.ctx;
    for (const ns of api.list(types.namespaces, undefined)) {
      if (!ns.metadata.deletionTimestamp) continue;
      const name = ns.metadata.name ?? '';
      let remaining = 0;
      for (const rt of api.resources.all) {
        if (!rt.namespaced) continue;
        for (const o of api.store.list(resourceKey(rt), name)) {
          remaining++;
          if (o.metadata.deletionTimestamp) continue;
          try {
            api.delete(rt, name, o.metadata.name ?? '');
          } catch (e) {
            if (!(e instanceof ApiError)) throw e;
          }
        }
      }
      if (remaining === 0) api.finalizeDeletion(types.namespaces, undefined, name);
    }
  }
}
