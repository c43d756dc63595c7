import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import type { Config } from '../config.js';
import { SitepipeError } from '../errors.js';
import { parseImageRef } from '../reference.js';
import { type KubeObject, namesFor, requireDeploy } from './manifests-common.js';
import { gatewayFrontends, serviceAnnotations, twoIngressFrontends } from './manifests-frontends.js';
import { gcloudCommands, gcloudScript, gcloudShowAddresses, shellLine } from './manifests-gcloud.js';
import { certificate, clusterIssuers, managedCertificate } from './manifests-tls.js';
import { validateManifests } from './manifests-validate.js';
import { verifyCronJob } from './manifests-verify.js';
import { deployment, namespace, podDisruptionBudget, service } from './manifests-workload.js';

export type { KubeObject } from './manifests-common.js';
export { MINIMAL_DEPLOY_BLOCK, requireDeploy } from './manifests-common.js';
export { type GcloudCommand, gcloudCommands, gcloudComment, gcloudScript } from './manifests-gcloud.js';
export { SHIM_ANNOTATIONS, VALIDATED_KINDS, validateManifests } from './manifests-validate.js';

/** Marks the tag of the placeholder image; the deploy step always passes a real reference. */
export const PLACEHOLDER_TAG = '<tag>';

/**
 * The Deployment's image when none is given: `<repository>:<tag>`, with the repository from the
 * config. The literal <tag> is not a valid reference, so applying the manifests unchanged cannot
 * start a wrong image: the new pods fail with InvalidImageName and, with maxUnavailable 0, the
 * running ones keep serving.
 */
export function placeholderImage(config: Config): string {
  return `${config.image.repository}:${PLACEHOLDER_TAG}`;
}

export interface BuildOptions {
  /** The image to run, ideally repository@sha256:digest; a placeholder when omitted. */
  image?: string;
}

/**
 * Every object the site needs, in apply order: Namespace, ClusterIssuers, Certificate,
 * Deployment (and its PodDisruptionBudget), Service, frontends, and with verify.cronJob the
 * verify CronJob (and its ServiceAccount, Role, RoleBinding). Plain JSON objects, not yet
 * validated (validateManifests does that).
 */
export function buildManifests(config: Config, opts: BuildOptions = {}): KubeObject[] {
  const deploy = requireDeploy(config);
  if (opts.image !== undefined) parseImageRef(opts.image); // IMAGE_NAME_INVALID says what is wrong
  const image = opts.image?.trim() || placeholderImage(config);
  const n = namesFor(deploy);
  const objects: KubeObject[] = [namespace(n, deploy)];
  if (deploy.tls.provider === 'cert-manager') {
    objects.push(...clusterIssuers(n, deploy), certificate(n, deploy));
  } else if (deploy.frontends.mode === 'two-ingress') {
    objects.push(managedCertificate(n, deploy));
  }
  // (gateway + managed-certificate: the certificate is a Google Cloud resource; see gcloudCommands.)
  objects.push(
    deployment(n, config, deploy, image),
    podDisruptionBudget(n),
    service(n, serviceAnnotations(n, deploy)),
  );
  objects.push(
    ...(deploy.frontends.mode === 'gateway'
      ? gatewayFrontends(n, config, deploy)
      : twoIngressFrontends(n, config, deploy)),
  );
  // Last: the hourly `sitepipe verify` (verify.cronJob), which reads the objects above.
  if (config.verify.cronJob.enabled) objects.push(...verifyCronJob(n, config, deploy));
  // Builders share label maps and the like; callers get independent trees they may change.
  return objects.map((o) => structuredClone(o));
}

/** Things worth saying about a config that builds fine but needs something outside the manifests. */
export function manifestWarnings(config: Config, opts: BuildOptions = {}): string[] {
  const deploy = requireDeploy(config);
  const warnings: string[] = [];
  if (!opts.image) {
    warnings.push(
      `the Deployment's image is the placeholder ${placeholderImage(config)}; pass --image REPOSITORY@sha256:DIGEST to pin one`,
    );
  }
  const { tls, frontends } = deploy;
  if (tls.provider === 'cert-manager' && tls.acme === 'staging') {
    warnings.push(
      "tls.acme is staging: browsers do not trust Let's Encrypt staging certificates; switch to production once issuance works",
    );
  }
  if (tls.provider === 'cert-manager' && tls.challenge === 'http01' && frontends.mode === 'two-ingress') {
    warnings.push(
      `HTTP-01 in two-ingress mode: the challenge path goes on the ${tls.http01Frontend === 'ipv6' ? 'IPv6' : 'IPv4'} Ingress only. ` +
        (tls.http01Frontend === 'ipv6'
          ? 'Every host needs an AAAA record, and cert-manager must reach that Ingress over IPv6 for its self-check (a dual-stack cluster). '
          : 'No host may have an AAAA record while certificates are issued. ') +
        'tls.challenge: dns01 or frontends.mode: gateway avoid this; see docs/kubernetes.md',
    );
  }
  if (config.verify.cronJob.enabled && config.verify.caFile) {
    warnings.push(
      `verify.caFile (${config.verify.caFile}) is a file on this machine: the verify CronJob trusts its image's roots instead`,
    );
  }
  return warnings;
}

/** No line folding, and no anchors/aliases for repeated objects (labels): every document stands alone. */
const YAML_OPTIONS = { lineWidth: 0, aliasDuplicateObjects: false } as const;

const MARKER = '# Written by sitepipe manifests; regenerate it rather than edit it.';

/** Multi-document YAML, `---` between objects, optionally under a comment block. */
export function manifestsToYaml(
  objects: readonly KubeObject[],
  opts: { comment?: readonly string[] } = {},
): string {
  const header = (opts.comment ?? []).map((line) => (line ? `# ${line}` : '#')).join('\n');
  const docs = objects.map((o) => stringify(o, YAML_OPTIONS));
  return (header ? `${header}\n` : '') + docs.map((d) => `---\n${d}`).join('');
}

/** The inverse of manifestsToYaml (comments and empty documents dropped). */
export function parseManifestsYaml(text: string): KubeObject[] {
  const docs = parseAllDocuments(text);
  const objects: KubeObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      throw new SitepipeError(
        'MANIFEST_INVALID',
        'the manifests are not valid YAML',
        'fix the YAML at the lines shown',
        doc.errors.map((e) => e.message),
      );
    }
    const value = doc.toJS() as unknown;
    if (value !== null && value !== undefined) objects.push(value as KubeObject);
  }
  return objects;
}

/** NN-kind-name.yaml: sorted by name, the files apply in the objects' order (`kubectl apply -f DIR`). */
export function manifestFileNames(objects: readonly KubeObject[]): string[] {
  const width = Math.max(2, String(objects.length - 1).length);
  return objects.map(
    (o, i) => `${String(i).padStart(width, '0')}-${o.kind.toLowerCase()}-${o.metadata.name}.yaml`,
  );
}

/** The gcloud script and a README for an --out directory. */
export function supportFiles(config: Config): Record<string, string> {
  const deploy = requireDeploy(config);
  const { ipv4AddressName, ipv6AddressName, mode } = deploy.frontends;
  const [showV4, showV6] = gcloudShowAddresses(config);
  const readme = [
    `# Kubernetes manifests for ${deploy.hosts.join(', ')}`,
    '',
    `Written by \`sitepipe manifests\`; regenerate them rather than edit them. Frontends: ${mode}; TLS: ${deploy.tls.provider}.`,
    '',
    '1. Once per project, create the Google Cloud resources: `sh gcloud.sh` (it runs:',
    ...gcloudCommands(config).map((c) => `   \`${shellLine(c.argv)}\``),
    '   and creates only what is missing).',
    `2. DNS, for every host: an A record with the address of ${ipv4AddressName}`,
    `   (\`${shellLine(showV4 ?? [])}\`) and an AAAA record with the address of ${ipv6AddressName}`,
    `   (\`${shellLine(showV6 ?? [])}\`).`,
    '3. Apply the numbered files in order: `kubectl apply --server-side --field-manager sitepipe -f .`',
    '',
    'Why the certificate always reaches both the IPv4 and the IPv6 frontend: docs/kubernetes.md.',
    '',
  ].join('\n');
  return { 'gcloud.sh': gcloudScript(config), 'README.md': readme };
}

/**
 * Validates, then writes one file per object (deterministic names, apply order) plus the extra
 * files (supportFiles). Earlier sitepipe-written object files in `dir` that the set no longer
 * holds are removed, so `kubectl apply -f dir` never applies a stale object; other files stay.
 * Returns the paths written.
 */
export async function writeManifests(
  dir: string,
  objects: readonly KubeObject[],
  extraFiles: Record<string, string> = {},
): Promise<string[]> {
  validateManifests(objects);
  const names = manifestFileNames(objects);
  await mkdir(dir, { recursive: true });
  for (const entry of await readdir(dir)) {
    if (!/^\d+-.+\.yaml$/.test(entry) || names.includes(entry)) continue;
    const text = await readFile(join(dir, entry), 'utf8').catch(() => '');
    if (text.startsWith(MARKER)) await rm(join(dir, entry), { force: true });
  }
  const written: string[] = [];
  for (const [i, object] of objects.entries()) {
    const path = join(dir, names[i] ?? `${i}.yaml`);
    await writeFile(path, `${MARKER}\n${stringify(object, YAML_OPTIONS)}`);
    written.push(path);
  }
  for (const [name, content] of Object.entries(extraFiles).sort(([a], [b]) => a.localeCompare(b))) {
    const path = join(dir, name);
    await writeFile(path, content);
    if (name.endsWith('.sh')) await chmod(path, 0o755);
    written.push(path);
  }
  return written;
}
