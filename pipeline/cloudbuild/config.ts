import { z } from 'zod';
import type { Config } from '../config.js';
import { SitepipeError } from '../errors.js';

/**
 * The `cloudbuild:` section of sitepipe.yaml: how `sitepipe cloudbuild` writes cloudbuild.yaml
 * and how `sitepipe trigger apply` sets up the push trigger. Every key has a default, so a
 * config without the section generates a working file.
 */

/** User substitutions: Cloud Build accepts only keys matching ^_[A-Z0-9_]+$ (see substitute.ts). */
export const USER_SUBSTITUTION_KEY = /^_[A-Z0-9_]+$/;

const userSubstitutions = z
  .record(
    z
      .string()
      .regex(USER_SUBSTITUTION_KEY, 'substitution keys start with _ then A-Z, 0-9, _ (e.g. _DEPLOY_ENV)'),
    z.string().max(4000),
  )
  .default({});

/** Machine types the published Cloud Build config schema accepts (N1 types are deprecated). */
export const MACHINE_TYPES = ['E2_HIGHCPU_8', 'E2_HIGHCPU_32', 'E2_MEDIUM', 'UNSPECIFIED'] as const;
export const LOGGING_MODES = ['LEGACY', 'GCS_ONLY', 'CLOUD_LOGGING_ONLY', 'NONE'] as const;

/** Trigger names: alphanumerics and dashes, 1-64, starting and ending alphanumeric (BuildTrigger.name). */
const triggerName = z
  .string()
  .regex(
    /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?$/,
    'must be 1-64 letters, digits and dashes, starting and ending with a letter or digit',
  );

export const triggerConfigSchema = z
  .object({
    name: triggerName.default('sitepipe-push'),
    description: z.string().default('sitepipe: build and push the site on every push'),
    /** `global`, or a region such as europe-west1 (regional triggers, 2nd-gen repositories). */
    location: z
      .string()
      .regex(/^[a-z0-9-]+$/, 'must be global or a region such as europe-west1')
      .default('global'),
    /** A GitHub repository connected through the Cloud Build GitHub App (1st gen). */
    github: z
      .object({ owner: z.string().min(1), name: z.string().min(1) })
      .strict()
      .optional(),
    /** A 2nd-gen repository: projects/P/locations/L/connections/C/repositories/R. */
    repository: z
      .string()
      .regex(
        /^projects\/[^/]+\/locations\/[^/]+\/connections\/[^/]+\/repositories\/[^/]+$/,
        'must be projects/PROJECT/locations/LOCATION/connections/CONNECTION/repositories/REPO',
      )
      .optional(),
    /** RE2 regular expression of the branches that start a build. */
    branch: z.string().min(1).default('^main$'),
    invertRegex: z.boolean().default(false),
    /** `file`: the trigger reads `filename` from the repo; `inline`: the build is stored in the trigger. */
    config: z.enum(['file', 'inline']).default('file'),
    filename: z.string().min(1).default('cloudbuild.yaml'),
    /** Substitutions the trigger sets for its builds (override the file's defaults). */
    substitutions: userSubstitutions,
    includedFiles: z.array(z.string()).default([]),
    ignoredFiles: z.array(z.string()).default([]),
    /** projects/PROJECT/serviceAccounts/EMAIL; the project's default when omitted. */
    serviceAccount: z.string().optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (!t.github === !t.repository) {
      ctx.addIssue({
        code: 'custom',
        message: 'name exactly one source: github: { owner, name } or repository: projects/…/repositories/R',
        path: ['github'],
      });
    }
  });

export const cloudbuildConfigSchema = z
  .object({
    /** The Google Cloud project; needed by `sitepipe trigger apply` (generation uses $PROJECT_ID). */
    projectId: z
      .string()
      .regex(/^[a-z][-a-z0-9]{4,28}[a-z0-9]$/, 'must be a Google Cloud project ID')
      .optional(),
    /** The image every sitepipe step runs in; $PROJECT_ID and user substitutions are allowed. */
    builder: z.string().min(1).optional(),
    /** The standard Docker builder, used by the cache steps (and the image build with imageStep: docker-builder). */
    dockerBuilder: z.string().min(1).default('gcr.io/cloud-builders/docker'),
    /**
     * sitepipe: the image step runs `sitepipe run image` (either image.builder; the Docker path
     * reaches the build machine's engine through /var/run/docker.sock). docker-builder (Docker
     * path only): sitepipe writes the build context, the standard Docker builder runs
     * `docker build`, and sitepipe tags the result and records it.
     */
    imageStep: z.enum(['sitepipe', 'docker-builder']).default('sitepipe'),
    /** The whole build's time limit (Cloud Build allows at most 24 h). */
    timeoutSeconds: z
      .number()
      .int()
      .min(60)
      .max(24 * 3600)
      .default(3600),
    machineType: z.enum(MACHINE_TYPES).default('E2_HIGHCPU_8'),
    logging: z.enum(LOGGING_MODES).default('CLOUD_LOGGING_ONLY'),
    /** Extra user substitutions with their defaults; each is handed to every sitepipe step as env. */
    substitutions: userSubstitutions,
    cache: z
      .object({
        enabled: z.boolean().default(true),
        /** The image that carries the cache between builds; default <image.repository>/sitepipe-cache:latest. */
        image: z.string().min(1).optional(),
      })
      .strict()
      .default({ enabled: true }),
    trigger: triggerConfigSchema.optional(),
  })
  .strict();

export type CloudbuildConfig = z.infer<typeof cloudbuildConfigSchema>;
export type TriggerConfig = z.infer<typeof triggerConfigSchema>;

/**
 * The cloudbuild section of a loaded config, defaults filled in. Works whether or not the
 * main config schema declares the section yet (it is validated here either way).
 */
export function cloudbuildSettings(config: Config): CloudbuildConfig {
  const raw = (config as { cloudbuild?: unknown }).cloudbuild;
  const parsed = cloudbuildConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    throw new SitepipeError(
      'CONFIG_INVALID',
      'the cloudbuild section of the config is invalid',
      'fix each key listed; the README documents every key',
      parsed.error.issues.map((i) => `cloudbuild.${i.path.map(String).join('.')}: ${i.message}`),
    );
  }
  return parsed.data;
}
