import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { LOGGING_MODES, MACHINE_TYPES } from '../../pipeline/cloudbuild/config.js';
import { generateCloudBuild } from '../../pipeline/cloudbuild/generate.js';
import { parseConfig } from '../../pipeline/config.js';
import { PIPELINE } from '../../pipeline/pipeline.js';
import { buildConfigProblems, CLOUDBUILD_PROTO } from '../helpers/cloudbuild.js';

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
serviceAccount: projects/p/serviceAccounts/b@p.iam.gserviceaccount.com
logsBucket: gs://p-logs
options:
  machineType: E2_STANDARD_2
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

/** An enum of BuildOptions as cloudbuild.proto (not the JSON copy sitepipe reads) defines it. */
function protoEnum(name: string): protobuf.Enum {
  return protobuf
    .parse(readFileSync(CLOUDBUILD_PROTO, 'utf8'), { keepCase: true })
    .root.lookupEnum(`google.devtools.cloudbuild.v1.BuildOptions.${name}`);
}

/** The enum's names less those the proto marks deprecated. */
function current(e: protobuf.Enum): string[] {
  return Object.keys(e.values).filter((n) => e.valuesOptions?.[n]?.deprecated !== true);
}

describe('sitepipe’s build options against cloudbuild.proto', () => {
  it('takes exactly the machine types and logging modes the API defines, less the deprecated ones', () => {
    expect([...MACHINE_TYPES].sort()).toEqual(current(protoEnum('MachineType')).sort());
    expect(MACHINE_TYPES).toContain('E2_STANDARD_2');
    expect(MACHINE_TYPES).not.toContain('N1_HIGHCPU_8');
    expect([...LOGGING_MODES].sort()).toEqual(current(protoEnum('LoggingMode')).sort());
  });

  it('generates a valid Build with every option the cloudbuild section sets', () => {
    const site = 'hugo: { version: 0.111.3 }\nimage: { repository: gcr.io/p1/website }\n';
    const sections = [
      [
        'cloudbuild:',
        '  pool: projects/p1/locations/europe-west1/workerPools/private',
        '  serviceAccount: projects/p1/serviceAccounts/builder@p1.iam.gserviceaccount.com',
        '  logging: GCS_ONLY',
        '  logsBucket: gs://p1-logs',
        '  location: europe-west1',
        '  availableSecrets:',
        '    secretManager:',
        '      - { versionName: projects/p1/secrets/pw/versions/latest, env: SITEPIPE_REGISTRY_PASSWORD }',
        '      - { versionName: projects/p1/secrets/hook/versions/1, env: HOOK, steps: [deploy] }',
      ].join('\n'),
      'cloudbuild: { machineType: E2_STANDARD_2, diskSizeGb: 200 }',
    ];
    for (const section of sections) {
      const config = parseConfig(`${site}${section}\n`, 'test');
      const build = generateCloudBuild({ config, configPath: 'sitepipe.yaml', pipeline: PIPELINE });
      expect(buildConfigProblems(JSON.parse(JSON.stringify(build))), section).toEqual([]);
    }
  });
});
