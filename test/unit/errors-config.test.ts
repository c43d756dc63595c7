import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../pipeline/config.js';
import type { SitepipeError } from '../../pipeline/errors.js';
import { parseRepository } from '../../pipeline/reference.js';
import { MAX_YAML_BYTES } from '../../pipeline/yaml-schema.js';

const BASE = 'hugo: { version: 0.111.3 }\nimage: { repository: 127.0.0.1:5000/website }\n';

function failure(fn: () => unknown): SitepipeError {
  try {
    fn();
  } catch (e) {
    return e as SitepipeError;
  }
  throw new Error('expected a failure');
}

describe('config errors that say what, where and how to fix', () => {
  it('tags.commit and tags.branch both false is a config error, naming the keys', () => {
    const e = failure(() => parseConfig(`${BASE}tags: { commit: false, branch: false }\n`, 'sitepipe.yaml'));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.details.join('\n')).toMatch(/^tags\.commit: tags\.commit and tags\.branch are both false/m);
  });

  it('keeps the schema message of a bad cloudbuild.substitutions key', () => {
    const e = failure(() =>
      parseConfig(`${BASE}cloudbuild: { substitutions: { lower: x } }\n`, 'sitepipe.yaml'),
    );
    const details = e.details.join('\n');
    expect(details).toContain('cloudbuild.substitutions.lower: substitution keys start with _');
    expect(details).not.toContain('Invalid key in record');
  });

  it('refuses a config over 1 MB at once, with its own code', () => {
    const keys = Array.from({ length: 80_000 }, (_, i) => `  key${i}: value${i}`).join('\n');
    const text = `${BASE}extra:\n${keys}\n`;
    expect(Buffer.byteLength(text)).toBeGreaterThan(MAX_YAML_BYTES);
    const e = failure(() => parseConfig(text, 'big.yaml'));
    expect(e.code).toBe('CONFIG_TOO_LARGE');
    expect(e.message).toMatch(/big\.yaml is 1\.\d MB; a config may be at most 1 MB/);
  });

  it('still reports a duplicate key, with its line', () => {
    const e = failure(() => parseConfig(`${BASE}smoke: { enabled: true }\nsmoke: { enabled: false }\n`, 'f'));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.details).toEqual(['line 4: the key "smoke" appears twice in one mapping']);
  });

  it('image.repository with a tag gets a hint that agrees with the message', () => {
    const e = failure(() => parseRepository('127.0.0.1:5000/website:v1'));
    expect(e.code).toBe('IMAGE_NAME_INVALID');
    expect(e.hint).toContain('image.repository: 127.0.0.1:5000/website');
    expect(e.hint).not.toMatch(/\[:tag\]/);
  });
});
