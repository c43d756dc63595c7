import { type Descriptor, type ImageManifest, MEDIA, sha256Digest } from '../clients/registry.js';

/** The parts of an image config sitepipe reads or extends; the rest is kept as the base has it. */
export interface ImageConfig {
  created?: string;
  config?: { Labels?: Record<string, string> | null; [key: string]: unknown };
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: Array<{ created?: string; created_by?: string; comment?: string; empty_layer?: boolean }>;
  [key: string]: unknown;
}

export interface SiteLayer {
  name: string;
  digest: string;
  diffId: string;
  size: number;
}

export interface ComposedImage {
  config: Buffer;
  configDescriptor: Descriptor;
  manifest: Buffer;
  digest: string;
  layers: Descriptor[];
}

/** Docker's media types name the same bytes as OCI's; the manifest is OCI throughout. */
const TO_OCI: Record<string, string> = {
  [MEDIA.dockerLayerGzip]: MEDIA.ociLayerGzip,
  'application/vnd.docker.image.rootfs.diff.tar': 'application/vnd.oci.image.layer.v1.tar',
};

/**
 * The base image plus the site layers: config and manifest, serialised the same way every
 * time, so that the same commit and base always give the same digest. `port` is where nginx
 * listens in the image: the only port it exposes (the base's, e.g. 80, is not served).
 */
export function composeImage(opts: {
  base: ImageManifest;
  baseConfig: ImageConfig;
  layers: readonly SiteLayer[];
  created: string;
  port: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}): ComposedImage {
  const { base, baseConfig } = opts;
  const config: ImageConfig = {
    ...baseConfig,
    created: opts.created,
    config: {
      ...baseConfig.config,
      ExposedPorts: { [`${opts.port}/tcp`]: {} },
      Labels: { ...(baseConfig.config?.Labels ?? {}), ...opts.labels },
    },
    rootfs: {
      type: 'layers',
      diff_ids: [...baseConfig.rootfs.diff_ids, ...opts.layers.map((l) => l.diffId)],
    },
    history: [
      ...(baseConfig.history ?? []),
      ...opts.layers.map((l) => ({ created: opts.created, created_by: `sitepipe: ${l.name} layer` })),
    ],
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDescriptor = {
    mediaType: MEDIA.ociConfig,
    digest: sha256Digest(configBytes),
    size: configBytes.length,
  };
  const layers: Descriptor[] = [
    ...base.layers.map((l) => ({
      mediaType: TO_OCI[l.mediaType] ?? l.mediaType,
      digest: l.digest,
      size: l.size,
    })),
    ...opts.layers.map((l) => ({ mediaType: MEDIA.ociLayerGzip, digest: l.digest, size: l.size })),
  ];
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      config: configDescriptor,
      layers,
      annotations: opts.annotations,
    }),
  );
  return { config: configBytes, configDescriptor, manifest, digest: sha256Digest(manifest), layers };
}
