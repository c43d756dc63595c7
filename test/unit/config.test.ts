import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../pipeline/config.js';
import { problem } from '../helpers/expect-code.js';
import { tempDir } from '../helpers/temp.js';

describe('config', () => {
  it('fills defaults', () => {
    const cfg = parseConfig('hugo: { version: 0.111.3 }\nimage: { repository: gcr.io/p/site }\n', 'x.yaml');
    expect(cfg.site.dir).toBe('.');
    expect(cfg.image.base).toBe('nginx:stable-alpine');
    expect(cfg.image.builder).toBe('oci');
    expect(cfg.tags.commitLength).toBe(12);
    expect(cfg.pygments.stylesheet).toBe('css/syntax.css');
    expect(cfg.registry.credentials).toBe('docker-config');
  });

  it('reports every problem at once, each with its key path', () => {
    const err = problem(() =>
      parseConfig(
        [
          'hugo: { version: v0.111 }',
          'image: { builder: podman }',
          'tags: { commitLength: 3 }',
          'colour: blue',
        ].join('\n'),
        'x.yaml',
      ),
    );
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toMatch(/5 problems/);
    const text = err.details.join('\n');
    expect(text).toMatch(/^hugo\.version: .*0\.111\.3/m);
    expect(text).toMatch(/^image\.repository: is required \(e\.g\./m);
    expect(text).toMatch(/^image\.builder: /m);
    expect(text).toMatch(/^tags\.commitLength: /m);
    expect(text).toMatch(/unknown key\(s\): colour/);
  });

  it('reports YAML syntax errors with their line', () => {
    const err = problem(() => parseConfig('hugo: [\n', 'x.yaml'));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.details.join('\n')).toMatch(/line/);
  });

  it('says where to put a missing config', async () => {
    const dir = await tempDir('sitepipe-cfg-');
    await expect(loadConfig(join(dir, 'sitepipe.yaml'))).rejects.toMatchObject({
      code: 'CONFIG_MISSING',
      hint: expect.stringContaining('example/sitepipe.yaml'),
    });
  });

  it('resolves the site dir against the config file', async () => {
    const dir = await tempDir('sitepipe-cfg-');
    await writeFile(
      join(dir, 'sitepipe.yaml'),
      'site: { dir: web }\nhugo: { version: 0.111.3 }\nimage: { repository: gcr.io/p/site }\n',
    );
    expect((await loadConfig(join(dir, 'sitepipe.yaml'))).siteDir).toBe(join(dir, 'web'));
  });
});
