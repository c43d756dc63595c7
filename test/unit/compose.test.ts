import { describe, expect, it } from 'vitest';
import { MEDIA } from '../../pipeline/clients/registry.js';
import { composeImage, type ImageConfig } from '../../pipeline/oci/compose.js';

const baseConfig: ImageConfig = {
  architecture: 'amd64',
  os: 'linux',
  config: {
    ExposedPorts: { '80/tcp': {} },
    Cmd: ['nginx', '-g', 'daemon off;'],
    StopSignal: 'SIGQUIT',
    Labels: null,
  },
  rootfs: { type: 'layers', diff_ids: [`sha256:${'a'.repeat(64)}`] },
  history: [{ created_by: 'base' }],
};

const compose = (port: number) =>
  composeImage({
    base: {
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      config: { mediaType: MEDIA.ociConfig, digest: `sha256:${'c'.repeat(64)}`, size: 1 },
      layers: [{ mediaType: MEDIA.dockerLayerGzip, digest: `sha256:${'b'.repeat(64)}`, size: 10 }],
    },
    baseConfig,
    layers: [
      { name: 'pages-0', digest: `sha256:${'d'.repeat(64)}`, diffId: `sha256:${'e'.repeat(64)}`, size: 5 },
    ],
    created: '2026-03-01T12:00:00.000Z',
    port,
    labels: { 'org.opencontainers.image.revision': 'abc' },
    annotations: {},
  });

describe('composeImage', () => {
  it('exposes exactly the port nginx listens on, not the base image port', () => {
    const config = JSON.parse(compose(8080).config.toString());
    expect(config.config.ExposedPorts).toEqual({ '8080/tcp': {} });
  });

  it('keeps the rest of the base config and adds the labels', () => {
    const config = JSON.parse(compose(8080).config.toString());
    expect(config.config.Cmd).toEqual(['nginx', '-g', 'daemon off;']);
    expect(config.config.StopSignal).toBe('SIGQUIT');
    expect(config.config.Labels).toEqual({ 'org.opencontainers.image.revision': 'abc' });
    expect(config.rootfs.diff_ids).toHaveLength(2);
  });

  it('is the same bytes every time for the same inputs, and another port is another image', () => {
    expect(compose(8080).digest).toBe(compose(8080).digest);
    expect(compose(9090).digest).not.toBe(compose(8080).digest);
  });
});
