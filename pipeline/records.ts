import { z } from 'zod';

/**
 * What each step hands to the next. Each is also written to the state dir as a small
 * versioned JSON record, so a step can run in a separate process (a Cloud Build step)
 * and pick up what earlier steps produced.
 */
export const RECORD_VERSION = 2;

export const sourceRecord = z.object({
  commit: z.string().regex(/^[0-9a-f]{40}$/),
  shortSha: z.string(),
  branch: z.string().nullable(),
  /** Commit time, ISO 8601 (UTC). */
  commitTime: z.string(),
  dirty: z.boolean(),
  /** Remote URL with any credentials removed, for the OCI source label. */
  sourceUrl: z.string().nullable(),
});

/** The commit every record after `source` was made from: a step refuses inputs of two commits. */
const commit = z.string().regex(/^[0-9a-f]{40}$/);

export const tagRecord = z.object({
  commit,
  repository: z.string(),
  /** Tags in the order they are set: the commit tag first, then the branch tag. */
  tags: z.array(z.string()).min(1),
  commitTag: z.string(),
  branchTag: z.string().nullable(),
});

export const hugoRecord = z.object({
  path: z.string(),
  version: z.string(),
  extended: z.boolean(),
  /** Where it came from: the sitepipe cache, PATH, or a verified download. */
  origin: z.enum(['cache', 'path', 'download']),
});

export const pygmentsRecord = z.object({
  enabled: z.boolean(),
  path: z.string().nullable(),
  version: z.string().nullable(),
  style: z.string(),
  /** Stylesheet path inside the site output, e.g. css/syntax.css. */
  stylesheet: z.string().nullable(),
  /** The stylesheet itself (a few KB), so render writes it without running Python again. */
  css: z.string().nullable(),
});

export const renderRecord = z.object({
  outputDir: z.string(),
  files: z.number().int(),
  bytes: z.number().int(),
  durationMs: z.number(),
  hugoVersion: z.string(),
  commit,
  /** The baseURL Hugo rendered with, and the URL path the site lives under ("/" or e.g. "/blog/"). */
  baseURL: z.string(),
  basePath: z.string(),
});

export const imageRecord = z.object({
  commit,
  builder: z.enum(['docker', 'oci']),
  /** What smoke runs: the engine's image id (docker), or repository@digest already in the registry (oci). */
  localRef: z.string(),
  /** The manifest digest (oci); the docker path learns it only when pushing. */
  digest: z.string().nullable(),
  baseImage: z.string(),
  /** The base resolved once per run, recorded in the labels too (oci). */
  baseDigest: z.string().nullable(),
  labels: z.record(z.string(), z.string()),
  /** Bytes this build sent to the registry (oci); 0 when every blob was there already. */
  uploadedBytes: z.number().int(),
  /** oci: full layers, a delta layer over the previous release, or the previous release's layers unchanged. */
  layers: z.enum(['full', 'delta', 'unchanged']).optional(),
  /** oci: the previous release the layers build on (repository@digest), or null when none was used. */
  previous: z.string().nullable().optional(),
});

export const smokeRecord = z.object({
  commit,
  /** The image smoke ran (the image record's localRef); push moves tags only onto this one. */
  image: z.string(),
  /** false when smoke.enabled is off: nothing was run. */
  tested: z.boolean(),
  pages: z.number().int(),
  /** Page and linked resource paths fetched. */
  checked: z.array(z.string()),
});

export const pushRecord = z.object({
  commit,
  repository: z.string(),
  tags: z.array(z.string()),
  digest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
});

export const deployRecord = z.object({
  commit,
  /** false when nothing was rolled: no deploy: section, or a branch that is not a production one (without previews). */
  deployed: z.boolean(),
  /** deploy.target: a Kubernetes Deployment, or releases on hosts. */
  target: z.enum(['kubernetes', 'host']).default('kubernetes'),
  /** kubernetes: repository@digest now rolled out; null on a host target. */
  image: z.string().nullable(),
  previousImage: z.string().nullable(),
  /** The release now live (the commit tag), or null when nothing was deployed. */
  release: z.string().nullable().default(null),
  /** Why nothing was deployed (no deploy section, not a production branch), else null. */
  skipped: z.string().nullable().default(null),
  /** A branch outside deploy.production.branches: the preview it rolled, else null. */
  preview: z
    .object({ branch: z.string(), name: z.string(), namespace: z.string(), url: z.string() })
    .nullable()
    .default(null),
  /** host target: what each server serves now, and what its upload sent. */
  servers: z
    .array(
      z.object({
        server: z.string(),
        serving: z.string().nullable(),
        previous: z.string().nullable(),
        bytesSent: z.number().int().nullable(),
        filesSent: z.number().int().nullable(),
      }),
    )
    .default([]),
});

export const verifyRecord = z.object({
  commit,
  /** false when the config names no hosts: nothing was checked. */
  verified: z.boolean(),
  /** The release every address was checked for (the commit tag), or null when not checked. */
  release: z.string().nullable(),
  attempts: z.number().int(),
  /** One per address of every host, as `sitepipe verify` prints them. */
  addresses: z.array(
    z.object({
      host: z.string(),
      address: z.string(),
      family: z.string(),
      serial: z.string().nullable(),
      expiry: z.string().nullable(),
      daysLeft: z.number().int().nullable(),
      release: z.string().nullable(),
      redirect: z.string(),
      verdict: z.string(),
    }),
  ),
  warnings: z.array(z.string()),
});

export const records = {
  source: sourceRecord,
  tag: tagRecord,
  hugo: hugoRecord,
  pygments: pygmentsRecord,
  render: renderRecord,
  image: imageRecord,
  smoke: smokeRecord,
  push: pushRecord,
  deploy: deployRecord,
  verify: verifyRecord,
} as const;

export type Outputs = { [K in keyof typeof records]: z.infer<(typeof records)[K]> };
export type StepName = keyof Outputs;
export type SourceInfo = Outputs['source'];
export type TagPlan = Outputs['tag'];
export type HugoInstall = Outputs['hugo'];
export type PygmentsInstall = Outputs['pygments'];
export type RenderResult = Outputs['render'];
export type BuiltImage = Outputs['image'];
export type SmokeResult = Outputs['smoke'];
export type PushResult = Outputs['push'];
export type DeployResult = Outputs['deploy'];
export type VerifyResult = Outputs['verify'];
