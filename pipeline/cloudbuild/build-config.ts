import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { parseYamlWith } from '../yaml-schema.js';

/**
 * The Cloud Build config file (cloudbuild.yaml), as the fields of the Build resource
 * (https://cloud.google.com/build/docs/build-config-file-schema). Steps and options are strict,
 * like the published schema; unknown top-level keys are kept but not acted on.
 */

/** One enum of the Cloud Build API's BuildOptions, as protos.json in @google-cloud/cloudbuild defines it. */
interface ProtoEnum {
  values: Record<string, number>;
  valuesOptions?: Record<string, { deprecated?: boolean }>;
}

let buildOptions: { nested: Record<string, unknown> } | undefined;

function buildOptionsProto(): { nested: Record<string, unknown> } {
  const file = createRequire(import.meta.url).resolve('@google-cloud/cloudbuild/build/protos/protos.json');
  buildOptions ??= JSON.parse(readFileSync(file, 'utf8')).nested.google.nested.devtools.nested.cloudbuild
    .nested.v1.nested.BuildOptions;
  return buildOptions as { nested: Record<string, unknown> };
}

/**
 * The names of a BuildOptions enum that the API takes and does not deprecate, read from the
 * client library's own copy of cloudbuild.proto: a list kept here by hand went stale once
 * (it refused E2_STANDARD_2), and the library is upgraded with the API.
 */
export function buildOptionsEnum(name: 'MachineType' | 'LoggingMode'): [string, ...string[]] {
  const e = buildOptionsProto().nested[name] as ProtoEnum;
  const names = Object.keys(e.values).filter((n) => !e.valuesOptions?.[n]?.deprecated);
  return names as [string, ...string[]];
}

/** A protobuf Duration in JSON form, e.g. "600s" or "3.5s". */
export const durationSchema = z.string().regex(/^\d+(\.\d{0,9})?s$/, 'must be a duration like "600s"');

export const volumeSchema = z.strictObject({ name: z.string(), path: z.string() });

export const buildStepSchema = z.strictObject({
  name: z.string().min(1, 'a step must name its image'),
  args: z.array(z.string()).optional(),
  env: z.array(z.string()).optional(),
  dir: z.string().optional(),
  entrypoint: z.string().optional(),
  id: z.string().optional(),
  waitFor: z.array(z.string()).optional(),
  secretEnv: z.array(z.string()).optional(),
  volumes: z.array(volumeSchema).optional(),
  timeout: durationSchema.optional(),
  script: z.string().optional(),
  allowFailure: z.boolean().optional(),
  allowExitCodes: z.array(z.number().int()).optional(),
  automapSubstitutions: z.boolean().optional(),
});

export const buildOptionsSchema = z.strictObject({
  machineType: z.string().optional(),
  logging: z.string().optional(),
  logStreamingOption: z.string().optional(),
  substitutionOption: z.enum(['MUST_MATCH', 'ALLOW_LOOSE']).optional(),
  dynamicSubstitutions: z.boolean().optional(),
  automapSubstitutions: z.boolean().optional(),
  env: z.array(z.string()).optional(),
  secretEnv: z.array(z.string()).optional(),
  volumes: z.array(volumeSchema).optional(),
  diskSizeGb: z.union([z.number().int(), z.string()]).optional(),
  pool: z.strictObject({ name: z.string() }).optional(),
  requestedVerifyOption: z.string().optional(),
  sourceProvenanceHash: z.array(z.string()).optional(),
  defaultLogsBucketBehavior: z.string().optional(),
  enableStructuredLogging: z.boolean().optional(),
});

export const buildConfigSchema = z.looseObject({
  steps: z.array(buildStepSchema).min(1, 'a build needs at least one step').max(100),
  timeout: durationSchema.optional(),
  queueTtl: durationSchema.optional(),
  substitutions: z.record(z.string(), z.string()).optional(),
  images: z.array(z.string()).optional(),
  tags: z.array(z.string()).optional(),
  logsBucket: z.string().optional(),
  serviceAccount: z.string().optional(),
  options: buildOptionsSchema.optional(),
  availableSecrets: z
    .strictObject({
      secretManager: z.array(z.strictObject({ versionName: z.string(), env: z.string() })).optional(),
      inline: z
        .array(z.strictObject({ kmsKeyName: z.string(), envMap: z.record(z.string(), z.string()) }))
        .optional(),
    })
    .optional(),
  secrets: z
    .array(
      z.looseObject({
        kmsKeyName: z.string().optional(),
        secretEnv: z.record(z.string(), z.string()).optional(),
      }),
    )
    .optional(),
  artifacts: z
    .looseObject({
      objects: z
        .looseObject({ location: z.string().optional(), paths: z.array(z.string()).optional() })
        .optional(),
    })
    .optional(),
});

export type BuildConfig = z.infer<typeof buildConfigSchema>;
export type BuildStep = z.infer<typeof buildStepSchema>;
export type BuildOptions = z.infer<typeof buildOptionsSchema>;

/** "600s" -> 600000; "3.5s" -> 3500. */
export function durationMs(duration: string): number {
  return Math.round(Number.parseFloat(duration.slice(0, -1)) * 1000);
}

/** Cloud Build's limit for a build's and a step's timeout. */
export const MAX_TIMEOUT_MS = 24 * 3600 * 1000;
/** What Cloud Build uses when a build names no timeout. */
export const DEFAULT_BUILD_TIMEOUT = '600s';

/** Parses cloudbuild.yaml (or .json) text; every problem is reported at once. */
export function parseBuildConfig(text: string, file: string): BuildConfig {
  return parseYamlWith(buildConfigSchema, text, file, {
    code: 'CLOUDBUILD_CONFIG_INVALID',
    hint: 'see https://cloud.google.com/build/docs/build-config-file-schema',
  });
}
