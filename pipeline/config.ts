import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { cloudbuildConfigSchema } from './cloudbuild/config.js';
import { SitepipeError } from './errors.js';
import { enablesGitInfo, hugoArgsSchema, hugoEnvironmentSchema, hugoEnvSchema } from './hugo-options.js';
import { deployConfigSchema } from './kube/config.js';
import { parseImageRef } from './reference.js';
import { serveConfigSchema } from './serve/config.js';
import { verifyConfigSchema } from './verify/config.js';
import { parseYamlWith } from './yaml-schema.js';

const hugoVersion = z
  .string()
  .regex(/^\d+\.\d+\.\d+$/, 'must be a release version like 0.111.3 (no leading v)');

/** An image name Docker would accept; the reference parser says what is wrong. */
const imageRef = z.string().superRefine((value, ctx) => {
  try {
    parseImageRef(value);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: e instanceof SitepipeError ? e.message : String(e) });
  }
});

export const configSchema = z
  .object({
    version: z.literal(1).default(1),
    site: z
      .object({
        /** The Hugo site, relative to the config file. */
        dir: z.string().min(1).default('.'),
        /** Overrides the site's baseURL at render time. */
        baseURL: z.url().optional(),
      })
      .strict()
      .default({ dir: '.' }),
    hugo: z
      .object({
        version: hugoVersion,
        extended: z.boolean().default(true),
        /** Release download base; mirrors and tests point this elsewhere. */
        downloadBaseUrl: z.url().default('https://github.com/gohugoio/hugo/releases/download'),
        /** Flags for every build, by both builders (pipeline/hugo-options.ts says which are refused). */
        args: hugoArgsSchema,
        /** Environment variables for Hugo in both builders (the Docker build sees no others). */
        env: hugoEnvSchema,
        environment: hugoEnvironmentSchema,
      })
      .strict(),
    pygments: z
      .object({
        enabled: z.boolean().default(true),
        /** Exact pygmentize version to use; any when omitted. */
        version: z
          .string()
          .regex(/^\d+\.\d+(\.\d+)?$/, 'must be a version like 2.14.0')
          .optional(),
        style: z
          .string()
          .regex(/^[a-z0-9_-]+$/, 'must be a Pygments style name like monokai')
          .default('monokai'),
        /** Where the generated stylesheet lands in the site output. */
        stylesheet: z
          .string()
          .regex(/^[A-Za-z0-9_./-]+\.css$/, 'must be a relative .css path like css/syntax.css')
          .default('css/syntax.css'),
      })
      .strict()
      .default({ enabled: true, style: 'monokai', stylesheet: 'css/syntax.css' }),
    image: z
      .object({
        /** Where the image goes, e.g. gcr.io/PROJECT/website or 127.0.0.1:5000/website. */
        repository: imageRef,
        /** The nginx image the site is layered onto. */
        base: imageRef.default('nginx:stable-alpine'),
        /** oci: daemonless, reproducible layers through the registry API; docker: Dockerfile.template on a Docker engine. */
        builder: z.enum(['oci', 'docker']).default('oci'),
        /** Stage 1 of the Docker path: a Debian-based image that renders the site. */
        builderBase: imageRef.default('debian:bookworm-slim'),
        /** oci builder: also write the image as an OCI image layout directory (relative to this file). */
        ociLayout: z.string().min(1).optional(),
        /** oci builder: also write a `docker load` tarball (relative to this file). */
        dockerArchive: z.string().min(1).optional(),
        /** oci builder: media mtimes from git history, or the commit time (which every clone, shallow too, agrees on). */
        mediaTimes: z.enum(['git', 'commit']).default('git'),
        /** nginx listens here inside the container (unprivileged, so the image can run as non-root). */
        port: z.number().int().min(1).max(65535).default(8080),
        /** nginx sends `Sitepipe-Release: <commit tag>` on every response, which `sitepipe verify` reads. */
        releaseHeader: z.boolean().default(true),
        /** oci builder: the site as the previous release's layers plus one delta layer (README.md, "Layers"). */
        delta: z
          .object({
            /** false: full layers on every build (as the SITEPIPE_FULL_LAYERS=1 environment variable forces). */
            enabled: z.boolean().default(true),
            /** Delta layers stacked before the site is written as full layers again. */
            maxLayers: z.number().int().min(1).max(50).default(20),
            /** Bytes shadowed by later layers, as a share of the site's bytes, before full layers again. */
            maxWaste: z.number().min(0).max(1).default(0.25),
          })
          .strict()
          .default({ enabled: true, maxLayers: 20, maxWaste: 0.25 }),
      })
      .strict(),
    tags: z
      .object({
        branch: z.boolean().default(true),
        commit: z.boolean().default(true),
        commitLength: z.number().int().min(7).max(40).default(12),
        /** Registries accept at most 128 characters. */
        maxLength: z.number().int().min(16).max(128).default(128),
      })
      .strict()
      .refine((t) => t.commit || t.branch, {
        message:
          'tags.commit and tags.branch are both false, so the image would get no tag (set either to true)',
        path: ['commit'],
      })
      .default({ branch: true, commit: true, commitLength: 12, maxLength: 128 }),
    registry: z
      .object({
        credentials: z
          .enum(['docker-config', 'env', 'none'])
          .default('docker-config')
          .describe('docker-config: ~/.docker/config.json and its credential helpers'),
        /** Path of the Docker config file; default $DOCKER_CONFIG/config.json or ~/.docker/config.json. */
        dockerConfig: z.string().optional(),
        /** A registry request that sends or receives nothing for this long is retried. */
        timeoutSeconds: z.number().int().min(1).default(30),
        usernameEnv: z.string().default('SITEPIPE_REGISTRY_USERNAME'),
        passwordEnv: z.string().default('SITEPIPE_REGISTRY_PASSWORD'),
      })
      .strict()
      .default({
        credentials: 'docker-config',
        timeoutSeconds: 30,
        usernameEnv: 'SITEPIPE_REGISTRY_USERNAME',
        passwordEnv: 'SITEPIPE_REGISTRY_PASSWORD',
      }),
    /** Google Cloud Build: `sitepipe cloudbuild` and `sitepipe trigger apply`. */
    cloudbuild: cloudbuildConfigSchema.optional(),
    /** Kubernetes: needed by `sitepipe manifests` and the deploy commands. */
    deploy: deployConfigSchema.optional(),
    /** `sitepipe verify` and the verify step: what every frontend of every host serves. */
    verify: verifyConfigSchema.prefault({}),
    /** `sitepipe serve`: the push-to-deploy webhook receiver (docs/serve.md). */
    serve: serveConfigSchema.optional(),
    smoke: z
      .object({
        enabled: z.boolean().default(true),
        timeoutSeconds: z.number().int().min(1).default(60),
      })
      .strict()
      .default({ enabled: true, timeoutSeconds: 60 }),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.image.builder === 'docker' && enablesGitInfo(config.hugo.args, config.hugo.env)) {
      ctx.addIssue({
        code: 'custom',
        path: ['hugo'],
        message:
          "Hugo's git info (--enableGitInfo, HUGO_ENABLEGITINFO) needs the site's .git, which the docker builder's build leaves out: use image.builder: oci, or turn git info off",
      });
    }
  });

export type Config = z.infer<typeof configSchema>;

export interface LoadedConfig {
  config: Config;
  /** Absolute path of the config file. */
  path: string;
  /** Absolute site directory. */
  siteDir: string;
}

export const DEFAULT_CONFIG_FILE = 'sitepipe.yaml';

/** Hints for keys whose problems users hit most. */
const HINTS: Record<string, string> = {
  'hugo.version': 'pin the Hugo release the site is built with, e.g. hugo: { version: 0.111.3 }',
  'image.repository': 'e.g. image: { repository: gcr.io/my-project/website }',
};

function formatIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String).join('.') || '(top level)';
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') message = `unknown key(s): ${issue.keys.join(', ')}`;
  if (issue.code === 'invalid_type' && message.includes('received undefined')) message = 'is required';
  const hint = HINTS[path] ?? (issue.code === 'unrecognized_keys' ? 'check the spelling; see README.md' : '');
  return hint ? `${path}: ${message} (${hint})` : `${path}: ${message}`;
}

/** Parses and validates config text; every problem is reported at once. */
export function parseConfig(text: string, file: string): Config {
  return parseYamlWith(configSchema, text, file, {
    code: 'CONFIG_INVALID',
    hint: 'fix each key listed; the README documents every key',
    formatIssue,
  });
}

export async function loadConfig(file: string): Promise<LoadedConfig> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new SitepipeError(
      missing ? 'CONFIG_MISSING' : 'CONFIG_UNREADABLE',
      missing ? `no config file at ${path}` : `cannot read ${path}: ${(e as Error).message}`,
      missing
        ? `run \`sitepipe init --repository REGISTRY/NAME\` in the site's directory, or pass --config (example/sitepipe.yaml in the sitepipe package shows the keys)`
        : 'check the file permissions',
    );
  }
  const config = parseConfig(text, path);
  return { config, path, siteDir: resolve(dirname(path), config.site.dir) };
}
