import { describe, expect, it } from 'vitest';
import { cloudbuildSettings } from '../../pipeline/cloudbuild/config.js';
import { generateCloudBuild } from '../../pipeline/cloudbuild/generate.js';
import { validateBuild } from '../../pipeline/cloudbuild/local.js';
import { type Config, parseConfig } from '../../pipeline/config.js';
import { PIPELINE } from '../../pipeline/pipeline.js';
import { buildConfigProblems } from '../helpers/cloudbuild.js';

const SITE = 'hugo: { version: 0.111.3 }\nimage: { repository: gcr.io/my-project/website }\n';
const POOL = 'projects/p1/locations/europe-west1/workerPools/private';
const SA = 'projects/p1/serviceAccounts/builder@p1.iam.gserviceaccount.com';
const SECRET = 'projects/p1/secrets/registry-password/versions/latest';

/** The cloudbuild section as sitepipe reads it, from YAML text. */
function settings(yaml: string) {
  return cloudbuildSettings(parseConfig(`${SITE}cloudbuild:\n${yaml}`, 'test'));
}

/** The problems cloudbuildSettings reports for a section (its error's details). */
function problems(raw: unknown): string[] {
  try {
    cloudbuildSettings({ cloudbuild: raw } as unknown as Config);
    return [];
  } catch (e) {
    expect(e).toMatchObject({ code: 'CONFIG_INVALID', hint: expect.any(String) });
    return [...(e as { details: string[] }).details];
  }
}

function generate(yaml: string) {
  const config = parseConfig(`${SITE}cloudbuild:\n${yaml}`, 'test');
  return generateCloudBuild({ config, configPath: 'sitepipe.yaml', pipeline: PIPELINE, version: '1.2.3' });
}

describe('cloudbuild build options', () => {
  it('takes every machine type of the API’s own enum, E2_STANDARD_2 too, and none by default', () => {
    expect(settings('  machineType: E2_STANDARD_2\n').machineType).toBe('E2_STANDARD_2');
    expect(settings('  timeoutSeconds: 600\n').machineType).toBeUndefined();
    expect(problems({ machineType: 'E2_HIGHCPU_4' })).toEqual([
      expect.stringMatching(/^cloudbuild\.machineType: .*E2_STANDARD_2/),
    ]);
    // Deprecated N1 machines are refused, though the API still lists them.
    expect(problems({ machineType: 'N1_HIGHCPU_8' })).toHaveLength(1);
  });

  it('writes pool, diskSizeGb, serviceAccount, logsBucket and availableSecrets into the build', () => {
    const build = generate(
      [
        `  pool: ${POOL}`,
        `  serviceAccount: ${SA}`,
        '  logging: GCS_ONLY',
        '  logsBucket: gs://p1-build-logs',
        '  availableSecrets:',
        '    secretManager:',
        `      - { versionName: "${SECRET}", env: SITEPIPE_REGISTRY_PASSWORD }`,
        '      - { versionName: projects/$PROJECT_ID/secrets/hook/versions/2, env: HOOK_SECRET, steps: [deploy] }',
      ].join('\n'),
    );
    expect(build.options).toEqual({
      pool: { name: POOL },
      logging: 'GCS_ONLY',
      enableStructuredLogging: true,
    });
    expect(build).toMatchObject({ serviceAccount: SA, logsBucket: 'gs://p1-build-logs' });
    expect(build.availableSecrets).toEqual({
      secretManager: [
        { versionName: SECRET, env: 'SITEPIPE_REGISTRY_PASSWORD' },
        { versionName: 'projects/$PROJECT_ID/secrets/hook/versions/2', env: 'HOOK_SECRET' },
      ],
    });
    // The registry password goes to every `sitepipe run` step and no other; the hook secret only where named.
    for (const step of build.steps) {
      const expected = step.entrypoint === 'sitepipe' ? ['SITEPIPE_REGISTRY_PASSWORD'] : undefined;
      expect(
        step.secretEnv?.filter((s) => s !== 'HOOK_SECRET'),
        step.id,
      ).toEqual(expected);
      expect(step.secretEnv?.includes('HOOK_SECRET') ?? false, step.id).toBe(step.id === 'deploy');
    }
    expect(validateBuild(build, new Set(['SITEPIPE_REGISTRY_PASSWORD', 'HOOK_SECRET']))).toEqual([]);
    expect(buildConfigProblems(JSON.parse(JSON.stringify(build)))).toEqual([]);
    expect(generate('  diskSizeGb: 200\n').options?.diskSizeGb).toBe(200);
  });

  it('refuses a secret for a step the build does not have', () => {
    expect(() =>
      generate(
        `  availableSecrets: { secretManager: [{ versionName: "${SECRET}", env: P, steps: [deplo] }] }\n`,
      ),
    ).toThrow(
      expect.objectContaining({
        code: 'CLOUDBUILD_GENERATE_FAILED',
        message: expect.stringContaining('deplo'),
      }),
    );
  });

  it('refuses what Cloud Build would refuse, naming the key', () => {
    expect(problems({ serviceAccount: SA, logging: 'LEGACY' })).toEqual([
      expect.stringMatching(
        /^cloudbuild\.serviceAccount: with a service account, .*CLOUD_LOGGING_ONLY or NONE/,
      ),
    ]);
    expect(problems({ serviceAccount: SA })).toEqual([]); // logging defaults to CLOUD_LOGGING_ONLY
    expect(problems({ serviceAccount: SA, logging: 'GCS_ONLY', logsBucket: 'gs://p1-logs' })).toEqual([]);
    expect(problems({ pool: POOL, machineType: 'E2_MEDIUM', diskSizeGb: 100 })).toEqual([
      expect.stringMatching(/^cloudbuild\.machineType: .*worker config/),
      expect.stringMatching(/^cloudbuild\.diskSizeGb: .*worker config/),
    ]);
    expect(
      problems({ pool: 'europe-west1/private', serviceAccount: 'builder@p1.iam.gserviceaccount.com' }),
    ).toEqual([
      expect.stringMatching(
        /^cloudbuild\.pool: must be projects\/PROJECT\/locations\/LOCATION\/workerPools\/POOL/,
      ),
      expect.stringMatching(/^cloudbuild\.serviceAccount: must be projects\/PROJECT\/serviceAccounts\/EMAIL/),
    ]);
    expect(problems({ diskSizeGb: 5000 })).toEqual([expect.stringMatching(/^cloudbuild\.diskSizeGb: /)]);
    const secret = (env: string) => ({ versionName: SECRET, env });
    expect(
      problems({
        substitutions: { _ENV: 'x' },
        availableSecrets: { secretManager: [secret('CI'), secret('_ENV'), secret('A'), secret('A')] },
      }),
    ).toEqual([
      'cloudbuild.availableSecrets.secretManager.0.env: CI is already a step env variable or secret',
      'cloudbuild.availableSecrets.secretManager.1.env: _ENV is already a step env variable or secret',
      'cloudbuild.availableSecrets.secretManager.3.env: A is already a step env variable or secret',
    ]);
    expect(
      problems({ availableSecrets: { secretManager: [{ versionName: 'registry-password', env: 'P' }] } }),
    ).toEqual([
      expect.stringMatching(/versionName: must be projects\/PROJECT\/secrets\/SECRET\/versions\/VERSION/),
    ]);
  });

  it('runs the steps in the Artifact Registry builder when cloudbuild.location is set', () => {
    const build = generate('  location: europe-west1\n');
    expect(build.steps.find((s) => s.id === 'render')?.name).toBe(
      'europe-west1-docker.pkg.dev/$PROJECT_ID/sitepipe/sitepipe:1.2.3',
    );
  });
});
