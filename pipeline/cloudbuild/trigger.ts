import { CloudBuildClient, type protos } from '@google-cloud/cloudbuild';
import { branchesRegex } from '../branches.js';
import { SitepipeError } from '../errors.js';
import type { BuildConfig } from './build-config.js';
import type { TriggerConfig } from './config.js';

/**
 * Creates or updates the push trigger through the Cloud Build API (v1, BuildTrigger), with
 * @google-cloud/cloudbuild over REST (the client's `fallback` transport): the trigger is looked
 * up by name (GetBuildTrigger accepts a name where it takes an id), then created
 * (CreateBuildTrigger) or updated in full (UpdateBuildTrigger). Global triggers use the
 * projects/{project}/triggers routes; regional ones the projects/{p}/locations/{l}/triggers routes.
 *
 * `--dry-run` still looks the trigger up (a read), then hands the create or update call to a
 * client whose transport records the HTTP request instead of sending it: what is printed is
 * exactly what would go over the wire.
 */

type IBuildTrigger = protos.google.devtools.cloudbuild.v1.IBuildTrigger;
type IBuild = protos.google.devtools.cloudbuild.v1.IBuild;
type IBuildStep = protos.google.devtools.cloudbuild.v1.IBuildStep;
type IDuration = protos.google.protobuf.IDuration;
type ClientOptions = NonNullable<ConstructorParameters<typeof CloudBuildClient>[0]>;

/** The part of google-auth-library's AuthClient that the REST transport calls. */
export interface AuthLike {
  getRequestHeaders(url?: string | URL): Promise<Headers>;
  fetch(url: string | URL, init: RequestInit): Promise<Response>;
}

export interface ConnectOptions {
  /** Default cloudbuild.googleapis.com. */
  apiEndpoint?: string;
  port?: number;
  protocol?: 'http' | 'https';
  /** Default: Application Default Credentials. */
  authClient?: AuthLike;
}

/**
 * Application Default Credentials (a gcloud login, a key file, the metadata server), or null
 * when there are none. Resolved up front: the client would otherwise look them up in the
 * background and crash the process with an unhandled rejection when there are none.
 */
export async function defaultCredentials(): Promise<AuthLike | null> {
  const { GoogleAuth } = await import('google-auth-library');
  const auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
  try {
    return (await auth.getClient()) as unknown as AuthLike;
  } catch {
    return null;
  }
}

export const NO_CREDENTIALS = 'no Application Default Credentials (gcloud auth application-default login)';

export function connectCloudBuild(opts: ConnectOptions = {}): CloudBuildClient {
  const { authClient, ...rest } = opts;
  const options: ClientOptions = { fallback: true, ...rest };
  // Any object with getRequestHeaders and fetch serves the REST transport.
  if (authClient) options.authClient = authClient as unknown as ClientOptions['authClient'];
  return new CloudBuildClient(options);
}

export interface RecordedRequest {
  method: string;
  /** Path and query, e.g. /v1/projects/p/triggers?$alt=json%3Benum-encoding=int */
  path: string;
  body: unknown;
}

/** An AuthLike whose fetch records the request and answers `{}` without sending anything. */
export class RecordingTransport implements AuthLike {
  readonly requests: RecordedRequest[] = [];
  async getRequestHeaders(): Promise<Headers> {
    return new Headers();
  }
  async fetch(url: string | URL, init: RequestInit): Promise<Response> {
    const u = new URL(String(url));
    const text = typeof init.body === 'string' ? init.body : init.body ? String(init.body) : '';
    this.requests.push({
      method: init.method ?? 'GET',
      path: `${u.pathname}${u.search}`,
      body: text ? JSON.parse(text) : undefined,
    });
    return new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } });
  }
}

/** "600s" / "3.5s" as a protobuf Duration object. */
function duration(d: string | undefined): IDuration | undefined {
  if (d === undefined) return undefined;
  const total = Number.parseFloat(d.slice(0, -1));
  const seconds = Math.floor(total);
  const nanos = Math.round((total - seconds) * 1e9);
  return nanos ? { seconds, nanos } : { seconds };
}

/** A cloudbuild.yaml build as the API's Build message (durations as objects, enums by name). */
export function toApiBuild(build: BuildConfig): IBuild {
  const { steps, timeout, queueTtl, options, ...rest } = build;
  const out: IBuild = {
    ...(rest as IBuild),
    steps: steps.map(
      ({ timeout: t, ...s }): IBuildStep => ({ ...s, ...(t ? { timeout: duration(t) } : {}) }),
    ),
  };
  if (timeout) out.timeout = duration(timeout);
  if (queueTtl) out.queueTtl = duration(queueTtl);
  if (options) out.options = options as IBuild['options'];
  return out;
}

/** One trigger as the API gets it: the branch regex settled. */
export type PushTrigger = Omit<TriggerConfig, 'branch' | 'previews'> & { branch: string };

/**
 * The triggers `cloudbuild.trigger` asks for: the production one, on the production branches
 * unless `branch` says otherwise, and with `previews` a second one on every other branch.
 */
export function resolveTriggers(t: TriggerConfig, productionBranches: readonly string[]): PushTrigger[] {
  const { previews, ...rest } = t;
  const production: PushTrigger = { ...rest, branch: t.branch ?? branchesRegex(productionBranches) };
  if (!previews) return [production];
  const named = typeof previews === 'object' ? previews : {};
  return [
    production,
    {
      ...production,
      name: named.name ?? `${t.name}-previews`,
      description: named.description ?? 'sitepipe: build a preview site on every push to another branch',
      invertRegex: !production.invertRegex,
    },
  ];
}

export interface TriggerRequestInput {
  trigger: PushTrigger;
  /** The generated build, stored in the trigger when trigger.config is inline. */
  build: BuildConfig;
}

/** The BuildTrigger resource sitepipe wants. */
export function triggerResource({ trigger: t, build }: TriggerRequestInput): IBuildTrigger {
  const push = { branch: t.branch, ...(t.invertRegex ? { invertRegex: true } : {}) };
  return {
    name: t.name,
    description: t.description,
    tags: ['sitepipe'],
    ...(t.github
      ? { github: { owner: t.github.owner, name: t.github.name, push } }
      : { repositoryEventConfig: { repository: t.repository ?? '', push } }),
    ...(t.config === 'inline' ? { build: toApiBuild(build) } : { filename: t.filename }),
    substitutions: t.substitutions,
    includedFiles: t.includedFiles,
    ignoredFiles: t.ignoredFiles,
    ...(t.serviceAccount ? { serviceAccount: t.serviceAccount } : {}),
  };
}

function isNotFound(e: unknown): boolean {
  const err = e as { code?: unknown; status?: unknown };
  // gRPC NOT_FOUND is 5; the REST transport maps HTTP 404 to it.
  return err.code === 5 || err.code === 404 || err.status === 'NOT_FOUND';
}

function apiError(what: string, e: unknown): SitepipeError {
  const message = e instanceof Error ? e.message : String(e);
  const denied = /permission|denied|unauthenticated|credentials/i.test(message);
  return new SitepipeError(
    denied ? 'CLOUDBUILD_API_DENIED' : 'CLOUDBUILD_API_FAILED',
    `${what} failed: ${message}`,
    denied
      ? 'authenticate (gcloud auth application-default login) as an account with the Cloud Build Editor role'
      : 'check the project ID, the trigger settings in cloudbuild.trigger, and that the Cloud Build API is enabled',
  );
}

export interface ApplyTriggerOptions extends TriggerRequestInput {
  projectId: string;
  /** null: no credentials, so the trigger cannot be looked up (only a dry run goes on). */
  client: CloudBuildClient | null;
  dryRun: boolean;
  /** Builds the client that records the dry run's request; default: a client on a RecordingTransport. */
  recorder?: (transport: RecordingTransport) => CloudBuildClient;
}

export interface ApplyTriggerResult {
  action: 'create' | 'update';
  /** The existing trigger's id (update), or the new one's (create; empty under --dry-run). */
  id: string;
  /** Under --dry-run: the request that was not sent. */
  request: RecordedRequest | null;
  /**
   * Under --dry-run: why the existing trigger could not be looked up (no credentials, no
   * access); the request shown is then the one for a trigger that does not exist yet.
   */
  lookupFailed?: string;
}

/** Looks the trigger up by name; null when there is none. */
export async function findTrigger(
  client: CloudBuildClient,
  projectId: string,
  t: PushTrigger,
): Promise<IBuildTrigger | null> {
  const request =
    t.location === 'global'
      ? { projectId, triggerId: t.name }
      : { name: `projects/${projectId}/locations/${t.location}/triggers/${t.name}` };
  try {
    const [found] = await client.getBuildTrigger(request);
    return found;
  } catch (e) {
    if (isNotFound(e)) return null;
    throw apiError(`looking up trigger ${t.name}`, e);
  }
}

async function send(
  client: CloudBuildClient,
  projectId: string,
  t: PushTrigger,
  resource: IBuildTrigger,
  existing: IBuildTrigger | null,
): Promise<IBuildTrigger> {
  const parent = `projects/${projectId}/locations/${t.location}`;
  const global = t.location === 'global';
  if (!existing) {
    const [created] = await client.createBuildTrigger(
      global ? { projectId, trigger: resource } : { parent, trigger: resource },
    );
    return created;
  }
  const id = existing.id ?? '';
  const [updated] = await client.updateBuildTrigger(
    global
      ? { projectId, triggerId: id, trigger: resource }
      : { trigger: { ...resource, resourceName: `${parent}/triggers/${id}` } },
  );
  return updated;
}

export async function applyTrigger(opts: ApplyTriggerOptions): Promise<ApplyTriggerResult> {
  const t = opts.trigger;
  let lookupFailed: string | undefined;
  // A dry run shows the request even where nothing can be looked up (a laptop with no credentials).
  const { client } = opts;
  if (!client && !opts.dryRun) {
    throw new SitepipeError(
      'CLOUDBUILD_NO_CREDENTIALS',
      `cannot create or update trigger ${t.name}: ${NO_CREDENTIALS}`,
      'run gcloud auth application-default login (or set GOOGLE_APPLICATION_CREDENTIALS to a key file); --dry-run shows the request without credentials',
    );
  }
  if (!client) lookupFailed = NO_CREDENTIALS;
  const existing = client
    ? await findTrigger(client, opts.projectId, t).catch((e: Error) => {
        if (!opts.dryRun) throw e;
        lookupFailed = e.message;
        return null;
      })
    : null;
  const resource = triggerResource(opts);
  const action = existing ? 'update' : 'create';
  if (opts.dryRun) {
    const transport = new RecordingTransport();
    const recorder = opts.recorder?.(transport) ?? connectCloudBuild({ authClient: transport });
    try {
      await send(recorder, opts.projectId, t, resource, existing);
    } finally {
      await recorder.close();
    }
    const request = transport.requests.at(-1) ?? null;
    return { action, id: existing?.id ?? '', request, ...(lookupFailed ? { lookupFailed } : {}) };
  }
  try {
    const result = await send(client as CloudBuildClient, opts.projectId, t, resource, existing);
    return { action, id: result.id ?? existing?.id ?? '', request: null };
  } catch (e) {
    throw apiError(`${action === 'create' ? 'creating' : 'updating'} trigger ${t.name}`, e);
  }
}
