/**
 * Real containers through the local Docker engine: host network (the bridge is off-limits),
 * each container's nginx moved to its own free loopback port by replacing sitepipe's
 * /etc/nginx/sitepipe/listen.conf before start, as steps/smoke.ts does.
 */
import { connect } from 'node:net';
import type Docker from 'dockerode';
import { followProgress } from '../../../pipeline/clients/docker.js';
import { LISTEN_CONF_DIR, listenConfArchive } from '../../../pipeline/nginx.js';
import { demuxLogs, freePort } from '../../../steps/smoke.js';
import { checkPullable, type PullCheck, type RegistryCredential } from '../images.js';
import type { KubeObject } from '../types.js';
import { asArray, asNumber, asString, getPath, isObject } from '../util.js';
import {
  type ContainerSpec,
  type PodRuntime,
  type ProbeResult,
  type RunningContainer,
  StartError,
} from './runtime.js';

export const SIM_LABEL = 'io.sitepipe.kube-sim';

function tcpOpen(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export class DockerRuntime implements PodRuntime {
  readonly real = true;

  constructor(
    private readonly docker: Docker,
    /** Labels every container, so that close() removes exactly ours. */
    private readonly simId: string,
  ) {}

  async pull(image: string, credentials: RegistryCredential[]): Promise<PullCheck> {
    // The registry check comes first: it refuses any non-loopback registry before Docker is asked.
    const check = await checkPullable(image, credentials);
    if (!check.ok) return check;
    try {
      const stream = await this.docker.pull(image);
      await followProgress(this.docker, stream, () => {});
      return check;
    } catch (e) {
      return {
        ok: false,
        reason: 'ErrImagePull',
        message: `Failed to pull image "${image}": ${(e as Error).message}`,
      };
    }
  }

  async start(pod: KubeObject, spec: ContainerSpec): Promise<RunningContainer> {
    const port = await freePort();
    const podName = pod.metadata.name ?? 'pod';
    let container: Docker.Container;
    try {
      container = await this.docker.createContainer({
        name: `kube-sim-${this.simId}-${podName}-${spec.name}`,
        Image: spec.image,
        Labels: {
          [SIM_LABEL]: this.simId,
          [`${SIM_LABEL}.pod`]: `${pod.metadata.namespace}/${podName}`,
          [`${SIM_LABEL}.container`]: spec.name,
        },
        ...(spec.command ? { Entrypoint: spec.command } : {}),
        ...(spec.args ? { Cmd: spec.args } : {}),
        ...(spec.env
          ? { Env: spec.env.filter((e) => e.value !== undefined).map((e) => `${e.name}=${e.value}`) }
          : {}),
        HostConfig: { NetworkMode: 'host' },
      });
    } catch (e) {
      throw new StartError('CreateContainerError', (e as Error).message);
    }
    try {
      await container.putArchive(await listenConfArchive(port, '127.0.0.1'), { path: LISTEN_CONF_DIR });
    } catch (e) {
      await container.remove({ force: true }).catch(() => undefined);
      throw new StartError(
        'CreateContainerError',
        `kube-sim: cannot write ${LISTEN_CONF_DIR}/listen.conf into the image (${(e as Error).message}); ` +
          "realContainers mode runs only images built like sitepipe's (nginx including that file)",
      );
    }
    try {
      await container.start();
    } catch (e) {
      await container.remove({ force: true }).catch(() => undefined);
      throw new StartError('RunContainerError', (e as Error).message);
    }
    return {
      containerId: `docker://${container.id}`,
      hostPort: port,
      exitCode: async () => {
        try {
          const state = (await container.inspect()).State;
          return state.Running ? undefined : state.ExitCode;
        } catch {
          return -1;
        }
      },
      restart: async () => {
        await container.start().catch(() => undefined);
      },
      logs: async (tail?: number) => {
        const raw = await container
          .logs({ stdout: true, stderr: true, follow: false, ...(tail !== undefined ? { tail } : {}) })
          .catch(() => Buffer.alloc(0));
        const lines = demuxLogs(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)));
        return lines.length ? `${lines.join('\n')}\n` : '';
      },
      stop: async (graceSeconds: number) => {
        await container.stop({ t: Math.max(0, Math.round(graceSeconds)) }).catch(() => undefined);
        await container.remove({ force: true }).catch(() => undefined);
      },
    };
  }

  async probe(container: RunningContainer, probe: unknown): Promise<ProbeResult> {
    const port = container.hostPort;
    if (port === undefined) return { ok: false, message: 'no port' };
    const timeoutMs = (asNumber(getPath(probe, 'timeoutSeconds')) ?? 1) * 1000;
    const httpGet = getPath(probe, 'httpGet');
    if (isObject(httpGet)) {
      const path = asString(httpGet.path) ?? '/';
      const headers: Record<string, string> = { 'User-Agent': 'kube-probe/1.33' };
      for (const h of asArray(httpGet.httpHeaders)) {
        const name = asString(getPath(h, 'name'));
        const value = asString(getPath(h, 'value'));
        if (name && value !== undefined) headers[name] = value;
      }
      try {
        const res = await fetch(`http://127.0.0.1:${port}${path.startsWith('/') ? path : `/${path}`}`, {
          headers,
          redirect: 'manual',
          signal: AbortSignal.timeout(timeoutMs),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.status >= 200 && res.status < 400) return { ok: true };
        return { ok: false, message: `HTTP probe failed with statuscode: ${res.status}` };
      } catch (e) {
        const code = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
        return { ok: false, message: `Get "http://127.0.0.1:${port}${path}": ${code}` };
      }
    }
    if (isObject(getPath(probe, 'tcpSocket'))) {
      const ok = await tcpOpen(port, timeoutMs);
      return ok ? { ok } : { ok, message: `dial tcp 127.0.0.1:${port}: connect: connection refused` };
    }
    // exec and grpc probes are not run: they count as passing.
    return { ok: true };
  }

  async close(): Promise<void> {
    const list = await this.docker
      .listContainers({ all: true, filters: { label: [`${SIM_LABEL}=${this.simId}`] } })
      .catch(() => []);
    await Promise.all(
      list.map((c) =>
        this.docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined),
      ),
    );
  }
}
