/** What every controller gets: the API, resource types, the clock scale, events and controls. */
import type { Api } from '../api.js';
import { ApiError } from '../errors.js';
import type { ResourceType } from '../resources.js';
import type { Condition, KubeObject } from '../types.js';
import { isObject, randomSuffix, timestamp } from '../util.js';

export type ImageBehavior = 'normal' | 'pull-error' | 'not-ready' | 'crash';
export type ImageMatcher = string | RegExp | ((image: string) => boolean);
export type CertificateBehavior = 'issue' | 'pending' | 'fail';

/** Knobs a test turns to make the cluster misbehave. */
export class Controls {
  private readonly images: { match: ImageMatcher; behavior: ImageBehavior }[] = [];
  certificates: CertificateBehavior = 'issue';
  paused = false;

  /** Makes matching images behave as given, regardless of the registry (last rule wins). */
  setImageBehavior(match: ImageMatcher, behavior: ImageBehavior): void {
    this.images.push({ match, behavior });
  }

  clearImageBehaviors(): void {
    this.images.length = 0;
  }

  behaviorFor(image: string): ImageBehavior {
    for (let i = this.images.length - 1; i >= 0; i--) {
      const rule = this.images[i];
      if (!rule) continue;
      const m = rule.match;
      const hit = typeof m === 'string' ? m === image : m instanceof RegExp ? m.test(image) : m(image);
      if (hit) return rule.behavior;
    }
    return 'normal';
  }
}

export interface Types {
  namespaces: ResourceType;
  nodes: ResourceType;
  pods: ResourceType;
  services: ResourceType;
  endpoints: ResourceType;
  endpointslices: ResourceType;
  events: ResourceType;
  secrets: ResourceType;
  deployments: ResourceType;
  replicasets: ResourceType;
  ingresses: ResourceType;
}

export const NODE_NAME = 'kube-sim';
export const SIM_PREFIX = 'kube-sim.sitepipe.dev';

export class ControllerContext {
  readonly types: Types;

  constructor(
    readonly api: Api,
    /** Multiplies every simulated duration: 0.1 runs the cluster's clocks ten times faster. */
    readonly timeScale: number,
    readonly controls: Controls,
    readonly log: (line: string) => void,
    /** Asks the controller loop for another pass soon. */
    readonly trigger: () => void,
  ) {
    const t = (key: string) => {
      const rt = api.resources.byKey(key);
      if (!rt) throw new Error(`kube-sim: resource ${key} is not registered`);
      return rt;
    };
    this.types = {
      namespaces: t('/namespaces'),
      nodes: t('/nodes'),
      pods: t('/pods'),
      services: t('/services'),
      endpoints: t('/endpoints'),
      endpointslices: t('discovery.k8s.io/endpointslices'),
      events: t('/events'),
      secrets: t('/secrets'),
      deployments: t('apps/deployments'),
      replicasets: t('apps/replicasets'),
      ingresses: t('networking.k8s.io/ingresses'),
    };
  }

  /** Simulated seconds -> real milliseconds. */
  ms(seconds: number): number {
    return seconds * 1000 * this.timeScale;
  }

  /** Runs a write, ignoring the object having gone or changed under us (the next pass retries). */
  tryWrite(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof ApiError && (e.code === 404 || e.code === 409)) return;
      if (e instanceof ApiError && e.code === 403) return;
      throw e;
    }
  }

  /** Event names by involved object uid, reason and message: repeats only count up. */
  private readonly events = new Map<string, string>();

  /** Records a core/v1 Event, counting repeats of the same reason and message. */
  event(
    obj: KubeObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    component: string,
  ): void {
    const ns = obj.metadata.namespace ?? 'default';
    const now = timestamp();
    const key = `${obj.metadata.uid}\n${reason}\n${message}`;
    const name = this.events.get(key);
    const existing = name ? this.api.tryGet(this.types.events, ns, name) : undefined;
    this.tryWrite(() => {
      if (existing) {
        this.api.write(
          this.types.events,
          { ...existing, count: (Number(existing.count) || 1) + 1, lastTimestamp: now },
          component,
        );
        return;
      }
      const created = this.api.write(
        this.types.events,
        {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name: `${obj.metadata.name ?? 'object'}.${randomSuffix(10)}`, namespace: ns },
          involvedObject: {
            apiVersion: obj.apiVersion,
            kind: obj.kind,
            name: obj.metadata.name,
            namespace: obj.metadata.namespace,
            uid: obj.metadata.uid,
            resourceVersion: obj.metadata.resourceVersion,
          },
          reason,
          message,
          type,
          source: { component },
          reportingComponent: component,
          reportingInstance: '',
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
        component,
      );
      this.events.set(key, created.metadata.name ?? '');
    });
  }
}

export function getCondition(conditions: unknown, type: string): Condition | undefined {
  return Array.isArray(conditions)
    ? (conditions.find((c) => isObject(c) && c.type === type) as Condition | undefined)
    : undefined;
}

export function controllerOf(obj: KubeObject): string | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller)?.uid;
}
