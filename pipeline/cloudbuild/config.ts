import { z } from 'zod';
import type { Config } from '../config.js';
import { SitepipeError } from '../errors.js';
import { buildOptionsEnum } from './build-config.js';

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

/** Machine types and logging modes as the API defines them (deprecated ones left out). */
export const MACHINE_TYPES = buildOptionsEnum('MachineType');
export const LOGGING_MODES = buildOptionsEnum('LoggingMode');

/** The variables sitepipe sets on its steps: Cloud Build refuses a name that is both env and secretEnv. */
export const STEP_ENV_NAMES = ['CI', 'XDG_CACHE_HOME', 'HUGO_RESOURCEDIR', 'BRANCH_NAME', 'COMMIT_SHA'];

const resourceName = (pattern: RegExp, form: string) => z.string().regex(pattern, `must be ${form}`);

/** A Secret Manager secret version handed to steps as an env variable (Build.availableSecrets). */
const secretManagerSecret = z
  .object({
    /** projects/P/secrets/S/versions/V (V may be `latest`; $PROJECT_ID is substituted). */
    versionName: resourceName(
      /^projects\/[^/]+\/secrets\/[^/]+\/versions\/[^/]+$/,
      'projects/PROJECT/secrets/SECRET/versions/VERSION',
    ),
    env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'),
    /** sitepipe's addition: the steps that get it (step ids); default every `sitepipe run` step. */
    steps: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict();

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
    /**
     * RE2 regular expression of the branches that start a build; default: deploy.production.branches
     * (main and master unless the config says otherwise).
     */
    branch: z.string().min(1).optional(),
    invertRegex: z.boolean().default(false),
    /**
     * A second trigger, `<name>-previews`, for every other branch (the same build: its deploy
     * step makes the branch's preview). `true`, or { name, description }.
     */
    previews: z
      .union([
        z.boolean(),
        z.object({ name: triggerName.optional(), description: z.string().optional() }).strict(),
      ])
      .default(false),
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
    const previewsName = typeof t.previews === 'object' ? t.previews.name : undefined;
    if (t.previews && !previewsName && !triggerName.safeParse(`${t.name}-previews`).success) {
      ctx.addIssue({
        code: 'custom',
        message: `${t.name}-previews is too long for a trigger name; set previews: { name: … }`,
        path: ['previews'],
      });
    }
    if (!t.github === !t.repository) {
      ctx.addIssue({
        code: 'custom',
        message: 'name exactly one source: github: { owner, name } or repository: projects/…/repositories/R',
        path: ['github'],
      });
    }
  });

const cloudbuildObject = z
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
    /** Artifact Registry's region for the builder image (and the default of `sitepipe builder`). */
    location: z
      .string()
      .regex(
        /^[a-z]+-[a-z]+\d+$|^(us|europe|asia)$/,
        'must be a region such as europe-west1 (or us, europe, asia)',
      )
      .optional(),
    /**
     * Omitted: the API's standard machine (UNSPECIFIED, e2-standard-2: 2 vCPU), plenty for a
     * static site; E2_HIGHCPU_8 and up pay off only for very large sites.
     */
    machineType: z.enum(MACHINE_TYPES).optional(),
    /** The build VM's disk (BuildOptions.disk_size_gb); the API allows at most 4000. */
    diskSizeGb: z.number().int().min(1).max(4000).optional(),
    logging: z.enum(LOGGING_MODES).default('CLOUD_LOGGING_ONLY'),
    /** gs://BUCKET[/PATH] for the build logs. */
    logsBucket: z
      .string()
      .regex(/^gs:\/\/[a-z0-9][-_.a-z0-9]*[a-z0-9](\/.*)?$/, 'must be gs://BUCKET')
      .optional(),
    /** A private pool (how a build reaches a private cluster): options.pool.name. */
    pool: resourceName(
      /^projects\/[^/]+\/locations\/[^/]+\/workerPools\/[^/]+$/,
      'projects/PROJECT/locations/LOCATION/workerPools/POOL',
    ).optional(),
    /** The build's own service account (Build.service_account); the project's default when omitted. */
    serviceAccount: resourceName(
      /^projects\/[^/]+\/serviceAccounts\/[^/]+$/,
      'projects/PROJECT/serviceAccounts/EMAIL',
    ).optional(),
    availableSecrets: z
      .object({ secretManager: z.array(secretManagerSecret).default([]) })
      .strict()
      .default({ secretManager: [] }),
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

export const cloudbuildConfigSchema = cloudbuildObject.superRefine(checkBuildOptions);

/** Cloud Build's rules across keys, so a build it would refuse is refused here, with the key named. */
function checkBuildOptions(c: z.output<typeof cloudbuildObject>, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: 'custom', path, message });
  // A user-specified service account has no default logs bucket it may write to.
  if (c.serviceAccount && !c.logsBucket && (c.logging === 'LEGACY' || c.logging === 'GCS_ONLY')) {
    issue(
      ['serviceAccount'],
      `with a service account, Cloud Build needs logging: CLOUD_LOGGING_ONLY or NONE, or a logsBucket (logging is ${c.logging})`,
    );
  }
  // A private pool's machine and disk are the pool's (its worker config), not the build's.
  for (const key of ['machineType', 'diskSizeGb'] as const) {
    if (c.pool && c[key] !== undefined) {
      issue(
        [key],
        `a build in a private pool runs on the pool's workers: set ${key} in the pool's worker config`,
      );
    }
  }
  const taken = new Set([...STEP_ENV_NAMES, ...Object.keys(c.substitutions)]);
  c.availableSecrets.secretManager.forEach((s, i) => {
    if (taken.has(s.env)) {
      issue(
        ['availableSecrets', 'secretManager', i, 'env'],
        `${s.env} is already a step env variable or secret`,
      );
    }
    taken.add(s.env);
  });
}

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
