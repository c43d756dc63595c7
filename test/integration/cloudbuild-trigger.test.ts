import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { triggerConfigSchema } from '../../pipeline/cloudbuild/config.js';
import { generateCloudBuild } from '../../pipeline/cloudbuild/generate.js';
import {
  applyTrigger,
  connectCloudBuild,
  type PushTrigger,
  resolveTriggers,
} from '../../pipeline/cloudbuild/trigger.js';
import { parseConfig } from '../../pipeline/config.js';
import { PIPELINE } from '../../pipeline/pipeline.js';
import {
  type FakeCloudBuildApi,
  fixedTokenAuth,
  NOT_FOUND,
  startFakeCloudBuildApi,
} from '../helpers/cloudbuild.js';

// The real @google-cloud/cloudbuild client over REST (fallback: true), pointed at a server on
// 127.0.0.1 that records what it receives: the method, path and JSON body are the wire request.

const QUERY = '$alt=json%3Benum-encoding=int';
const config = parseConfig('hugo: { version: 0.111.3 }\nimage: { repository: gcr.io/p1/website }\n', 'test');
const build = generateCloudBuild({
  config,
  configPath: 'sitepipe.yaml',
  pipeline: PIPELINE,
  version: '0.1.0',
});

/** The production trigger of a cloudbuild.trigger section, with the default production branches. */
function trigger(t: Record<string, unknown>): PushTrigger {
  return resolveTriggers(triggerConfigSchema.parse(t), ['main', 'master'])[0] as PushTrigger;
}

const github = trigger({
  github: { owner: 'acme', name: 'site' },
  branch: '^main$',
  substitutions: { _ENV: 'prod' },
  includedFiles: ['site/**'],
});

/** The BuildTrigger body for `github`, as proto3 JSON. */
const githubBody = {
  substitutions: { _ENV: 'prod' },
  tags: ['sitepipe'],
  // proto3 JSON leaves out empty lists (ignoredFiles) and default values (invertRegex: false).
  includedFiles: ['site/**'],
  description: 'sitepipe: build and push the site on every push',
  filename: 'cloudbuild.yaml',
  github: { owner: 'acme', name: 'site', push: { branch: '^main$' } },
  name: 'sitepipe-push',
};

describe('sitepipe trigger apply (real client, REST, local HTTP server)', () => {
  let api: FakeCloudBuildApi;
  let client: ReturnType<typeof connectCloudBuild>;
  const connect = () =>
    connectCloudBuild({
      apiEndpoint: '127.0.0.1',
      port: api.port,
      protocol: 'http',
      authClient: fixedTokenAuth('test-token'),
    });

  beforeEach(async () => {
    api = await startFakeCloudBuildApi();
    client = connect();
  });
  afterEach(async () => {
    await client.close();
    await api.close();
  });

  it('creates the trigger when there is none by that name', async () => {
    api.respond(NOT_FOUND, { status: 200, body: { id: 'new-id', name: 'sitepipe-push' } });
    const result = await applyTrigger({ projectId: 'p1', trigger: github, build, client, dryRun: false });
    expect(result).toEqual({ action: 'create', id: 'new-id', request: null });
    expect(api.requests).toEqual([
      {
        method: 'GET',
        path: `/v1/projects/p1/triggers/sitepipe-push?${QUERY}`,
        authorization: 'Bearer test-token',
        body: undefined,
      },
      {
        method: 'POST',
        path: `/v1/projects/p1/triggers?${QUERY}`,
        authorization: 'Bearer test-token',
        body: githubBody,
      },
    ]);
  });

  it('updates the trigger it finds, by its id', async () => {
    api.respond(
      { status: 200, body: { id: 'abc-123', name: 'sitepipe-push', filename: 'old.yaml' } },
      { status: 200, body: { id: 'abc-123', name: 'sitepipe-push' } },
    );
    const result = await applyTrigger({ projectId: 'p1', trigger: github, build, client, dryRun: false });
    expect(result).toEqual({ action: 'update', id: 'abc-123', request: null });
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /v1/projects/p1/triggers/sitepipe-push?${QUERY}`,
      `PATCH /v1/projects/p1/triggers/abc-123?${QUERY}`,
    ]);
    expect(api.requests[1]?.body).toEqual(githubBody);
  });

  it('--dry-run looks the trigger up, sends nothing else, and returns exactly the request it would send', async () => {
    api.respond(NOT_FOUND);
    const dry = await applyTrigger({ projectId: 'p1', trigger: github, build, client, dryRun: true });
    expect(api.requests.map((r) => r.method)).toEqual(['GET']);
    expect(dry.action).toBe('create');

    api.respond(NOT_FOUND, { status: 200, body: { id: 'new-id' } });
    await applyTrigger({ projectId: 'p1', trigger: github, build, client, dryRun: false });
    const sent = api.requests.at(-1);
    expect(dry.request).toEqual({ method: sent?.method, path: sent?.path, body: sent?.body });
  });

  it('--dry-run still shows the request when the lookup is refused (no credentials, no access)', async () => {
    api.respond({
      status: 403,
      body: {
        error: { code: 403, message: 'The caller does not have permission', status: 'PERMISSION_DENIED' },
      },
    });
    const dry = await applyTrigger({ projectId: 'p1', trigger: github, build, client, dryRun: true });
    expect(api.requests.map((r) => r.method)).toEqual(['GET']);
    expect(dry.lookupFailed).toMatch(/sitepipe-push/);
    expect(dry).toMatchObject({ action: 'create', request: { method: 'POST', body: githubBody } });
  });

  it('a regional trigger on a 2nd-gen repository, with the build inline, uses the location routes', async () => {
    const regional = trigger({
      location: 'europe-west1',
      repository: 'projects/p1/locations/europe-west1/connections/gh/repositories/site',
      branch: '^release/.*$',
      invertRegex: true,
      config: 'inline',
      serviceAccount: 'projects/p1/serviceAccounts/builder@p1.iam.gserviceaccount.com',
    });
    api.respond(NOT_FOUND, { status: 200, body: { id: 'r-1' } });
    await applyTrigger({ projectId: 'p1', trigger: regional, build, client, dryRun: false });
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /v1/projects/p1/locations/europe-west1/triggers/sitepipe-push?${QUERY}`,
      `POST /v1/projects/p1/locations/europe-west1/triggers?${QUERY}`,
    ]);
    const body = api.requests[1]?.body as Record<string, unknown> & { build: Record<string, unknown> };
    expect(body).toMatchObject({
      name: 'sitepipe-push',
      repositoryEventConfig: {
        repository: 'projects/p1/locations/europe-west1/connections/gh/repositories/site',
        push: { branch: '^release/.*$', invertRegex: true },
      },
      serviceAccount: 'projects/p1/serviceAccounts/builder@p1.iam.gserviceaccount.com',
    });
    expect(body.filename).toBeUndefined();
    // The inline build goes over the wire as proto3 JSON: durations as "600s", enums as numbers.
    expect(body.build.timeout).toBe('3600s');
    expect(body.build.options).toEqual({ logging: 5, enableStructuredLogging: true });
    const steps = body.build.steps as Array<Record<string, unknown>>;
    expect(steps.map((s) => s.id)).toEqual(build.steps.map((s) => s.id));
    expect(steps.find((s) => s.id === 'render')).toMatchObject({
      name: 'gcr.io/$PROJECT_ID/sitepipe:0.1.0',
      args: ['run', 'render', '--config', 'sitepipe.yaml', '--state-dir', '/workspace/.sitepipe', '--json'],
      waitFor: build.steps.find((s) => s.id === 'render')?.waitFor,
      timeout: '900s',
    });
    expect(body.build.images).toEqual(['$_SITEPIPE_CACHE_IMAGE']);
  });

  it('builds only the production branches by default; previews: true adds the trigger for every other branch', async () => {
    const [production, previews, extra] = resolveTriggers(
      triggerConfigSchema.parse({ github: { owner: 'acme', name: 'site' }, previews: true }),
      ['main', 'release/*'],
    );
    expect(extra).toBeUndefined();
    for (const t of [production, previews] as PushTrigger[]) {
      api.respond(NOT_FOUND, { status: 200, body: { id: `${t.name}-id` } });
      await applyTrigger({ projectId: 'p1', trigger: t, build, client, dryRun: false });
    }
    const created = api.requests.filter((r) => r.method === 'POST').map((r) => r.body);
    expect(created).toMatchObject([
      { name: 'sitepipe-push', github: { push: { branch: '^(?:main|release/[^/]*)$' } } },
      {
        name: 'sitepipe-push-previews',
        description: expect.stringMatching(/preview/),
        github: { push: { branch: '^(?:main|release/[^/]*)$', invertRegex: true } },
      },
    ]);
    expect((created[0] as { github: { push: object } }).github.push).not.toHaveProperty('invertRegex');
    // The regex means in the trigger what the globs mean to the deploy step.
    const regex = new RegExp(production?.branch as string);
    expect(['main', 'release/1.2'].map((b) => regex.test(b))).toEqual([true, true]);
    expect(['mainline', 'release/1/2', 'feature/x'].map((b) => regex.test(b))).toEqual([false, false, false]);
  });

  it('refuses a previews trigger whose derived name is too long', () => {
    const parsed = triggerConfigSchema.safeParse({
      name: 'x'.repeat(60),
      github: { owner: 'acme', name: 'site' },
      previews: true,
    });
    expect(parsed.error?.issues[0]).toMatchObject({ path: ['previews'], message: /too long/ });
  });

  it('updates a regional trigger through its resource name', async () => {
    const regional = trigger({ location: 'us-central1', github: { owner: 'acme', name: 'site' } });
    api.respond({ status: 200, body: { id: 'r-9' } }, { status: 200, body: { id: 'r-9' } });
    await applyTrigger({ projectId: 'p1', trigger: regional, build, client, dryRun: false });
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /v1/projects/p1/locations/us-central1/triggers/sitepipe-push?${QUERY}`,
      `PATCH /v1/projects/p1/locations/us-central1/triggers/r-9?${QUERY}`,
    ]);
    // trigger.resourceName is bound into the path, so the body leaves it out.
    expect(api.requests[1]?.body).toMatchObject({
      name: 'sitepipe-push',
      github: { owner: 'acme', name: 'site' },
    });
    expect(api.requests[1]?.body).not.toHaveProperty('resourceName');
  });

  it('says what to do when the API refuses', async () => {
    api.respond({
      status: 403,
      body: {
        error: { code: 403, message: 'The caller does not have permission', status: 'PERMISSION_DENIED' },
      },
    });
    await expect(
      applyTrigger({ projectId: 'p1', trigger: github, build, client, dryRun: false }),
    ).rejects.toMatchObject({
      code: 'CLOUDBUILD_API_DENIED',
      hint: expect.stringContaining('Cloud Build Editor'),
    });
  });

  it('rejects a trigger config that names no repository, or two', () => {
    expect(triggerConfigSchema.safeParse({}).success).toBe(false);
    expect(
      triggerConfigSchema.safeParse({
        github: { owner: 'a', name: 'b' },
        repository: 'projects/p/locations/l/connections/c/repositories/r',
      }).success,
    ).toBe(false);
    expect(triggerConfigSchema.safeParse({ name: '-bad-', github: { owner: 'a', name: 'b' } }).success).toBe(
      false,
    );
  });
});
