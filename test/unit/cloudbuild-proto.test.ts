import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildConfigProblems } from '../helpers/cloudbuild.js';

/** The problems of a cloudbuild.yaml text. */
const problems = (yaml: string) => buildConfigProblems(parse(yaml));

const STEP = 'steps: [{ name: gcr.io/cloud-builders/docker, args: [version] }]\n';

describe('the Build check (cloudbuild.proto)', () => {
  it('accepts a config using every kind of field, in camelCase or snake_case', () => {
    expect(
      problems(`
steps:
  - name: gcr.io/cloud-builders/docker
    id: build
    args: [build, .]
    env: [A=1]
    waitFor: ['-']
    secret_env: [TOKEN]
    volumes: [{ name: v, path: /v }]
    timeout: 3.5s
    allowExitCodes: [0, 1]
    automapSubstitutions: true
timeout: 600s
queue_ttl: 3600s
substitutions: { _ENV: prod }
images: [gcr.io/p/i]
tags: [t]
options:
  machineType: E2_HIGHCPU_8
  logging: CLOUD_LOGGING_ONLY
  disk_size_gb: '200'
  pool: { name: projects/p/locations/l/workerPools/w }
availableSecrets:
  secretManager: [{ versionName: projects/p/secrets/s/versions/1, env: TOKEN }]
secrets: [{ kmsKeyName: k, secretEnv: { PASSWORD: c2VjcmV0 } }]
artifacts: { objects: { location: gs://b/, paths: [a.txt] } }
`),
    ).toEqual([]);
  });

  it('catches a field name Cloud Build does not know, at any depth', () => {
    expect(problems(`${STEP}step: []\noptions: { machine: E2_MEDIUM }\n`)).toEqual([
      'step: Build has no field step',
      'options.machine: BuildOptions has no field machine',
    ]);
    expect(problems('steps: [{ name: x, command: [ls] }]')).toEqual([
      'steps[0].command: BuildStep has no field command',
    ]);
    expect(problems(`${STEP}availableSecrets: { secretManager: [{ version: v, env: E }] }`)).toEqual([
      'availableSecrets.secretManager[0].version: SecretManagerSecret has no field version',
    ]);
  });

  it('catches an enum value that is not one of the enum’s names', () => {
    expect(problems(`${STEP}options: { machineType: E2_HIGHCPU_4, logging: CLOUD_LOGGING }`)).toEqual([
      expect.stringMatching(
        /^options\.machineType: "E2_HIGHCPU_4" is not a MachineType: one of .*E2_HIGHCPU_8/,
      ),
      expect.stringMatching(
        /^options\.logging: "CLOUD_LOGGING" is not a LoggingMode: one of .*CLOUD_LOGGING_ONLY/,
      ),
    ]);
    expect(problems(`${STEP}options: { substitution_option: LOOSE }`)).toEqual([
      expect.stringMatching(/^options\.substitution_option: "LOOSE" is not a SubstitutionOption/),
    ]);
  });

  it('catches a value of the wrong type: scalar, list, mapping, message, duration', () => {
    expect(
      problems(`
steps:
  - name: x
    args: run
    allowFailure: 'yes'
    allowExitCodes: [one]
timeout: 600
substitutions: [_A=1]
options: E2_MEDIUM
artifacts: { objects: { paths: a.txt } }
secrets: [{ secretEnv: { P: 'not base64!' } }]
`),
    ).toEqual([
      'steps[0].args: expected a list, got "run"',
      'steps[0].allowFailure: expected true or false, got "yes"',
      'steps[0].allowExitCodes[0]: expected an integer, got "one"',
      'timeout: expected a duration in seconds like "600s" or "3.5s", got 600',
      'substitutions: expected a mapping, got ["_A=1"]',
      'options: expected a BuildOptions mapping',
      'artifacts.objects.paths: expected a list, got "a.txt"',
      'secrets[0].secretEnv.P: expected base64 text, got "not base64!"',
    ]);
    expect(problems(`${STEP}timeout: 10m`)).toEqual([
      'timeout: expected a duration in seconds like "600s" or "3.5s", got "10m"',
    ]);
  });

  it('rejects what only Cloud Build sets, a field given twice, and two members of a oneof', () => {
    expect(problems(`${STEP}status: SUCCESS\nlogsBucket: gs://a\nlogs_bucket: gs://b\n`)).toEqual([
      'status: status is set by Cloud Build (output only)',
      'logs_bucket: logs_bucket is set twice (snake_case and camelCase)',
    ]);
    expect(
      problems(`${STEP}source: { storageSource: { bucket: b, object: o }, repoSource: { repoName: r } }`),
    ).toEqual(['source: at most one of storage_source, repo_source']);
  });
});
