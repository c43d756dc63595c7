/** What the kubelet needs from a container runtime; the simulated one lives here too. */
import { checkPullable, type PullCheck, type RegistryCredential } from '../images.js';
import type { KubeObject } from '../types.js';
import { randomSuffix } from '../util.js';

export interface ContainerSpec {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
}

export interface RunningContainer {
  /** containerd://... or docker://... */
  readonly containerId: string;
  /** The loopback port the container serves on (real containers only). */
  readonly hostPort: number | undefined;
  /** undefined while it runs; its exit code once it stopped. */
  exitCode(): Promise<number | undefined>;
  restart(): Promise<void>;
  /** The container's output (stdout and stderr), the last `tail` lines when given. */
  logs(tail?: number): Promise<string>;
  /** Graceful stop (the image's STOPSIGNAL, then SIGKILL after the grace period), then removal. */
  stop(graceSeconds: number): Promise<void>;
}

/** A container that could not be created: `reason` becomes the waiting reason (e.g. CreateContainerError). */
export class StartError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ProbeResult {
  ok: boolean;
  message?: string;
}

export interface PodRuntime {
  readonly real: boolean;
  pull(image: string, credentials: RegistryCredential[]): Promise<PullCheck>;
  start(pod: KubeObject, container: ContainerSpec): Promise<RunningContainer>;
  /** Runs a readiness probe (a core/v1 Probe) against a running container. */
  probe(container: RunningContainer, probe: unknown): Promise<ProbeResult>;
  close(): Promise<void>;
}

/** No containers: pulls are checked against the registry, and a started container just runs. */
export class SimulatedRuntime implements PodRuntime {
  readonly real = false;

  pull(image: string, credentials: RegistryCredential[]): Promise<PullCheck> {
    return checkPullable(image, credentials);
  }

  async start(): Promise<RunningContainer> {
    return {
      containerId: `containerd://${randomSuffix(32)}`,
      hostPort: undefined,
      exitCode: async () => undefined,
      restart: async () => {},
      logs: async () => '',
      stop: async () => {},
    };
  }

  async probe(): Promise<ProbeResult> {
    return { ok: true };
  }

  async close(): Promise<void> {}
}
