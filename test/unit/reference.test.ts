import { describe, expect, it } from 'vitest';
import { SitepipeError } from '../../pipeline/errors.js';
import { formatImageRef, parseImageRef, parseRepository } from '../../pipeline/reference.js';

describe('parseImageRef', () => {
  it.each([
    ['nginx', { registry: 'docker.io', path: 'library/nginx', tag: null, digest: null }],
    [
      'nginx:stable-alpine',
      { registry: 'docker.io', path: 'library/nginx', tag: 'stable-alpine', digest: null },
    ],
    [
      'gcr.io/my-project/website',
      { registry: 'gcr.io', path: 'my-project/website', tag: null, digest: null },
    ],
    [
      '127.0.0.1:5000/website:master',
      { registry: '127.0.0.1:5000', path: 'website', tag: 'master', digest: null },
    ],
    ['localhost/a/b', { registry: 'localhost', path: 'a/b', tag: null, digest: null }],
    [
      'europe-west1-docker.pkg.dev/proj/repo/site',
      { registry: 'europe-west1-docker.pkg.dev', path: 'proj/repo/site', tag: null, digest: null },
    ],
  ])('%s', (ref, expected) => {
    expect(parseImageRef(ref)).toEqual(expected);
  });

  it('keeps a digest', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const ref = parseImageRef(`gcr.io/p/site@${digest}`);
    expect(ref.digest).toBe(digest);
    expect(formatImageRef(ref)).toBe(`gcr.io/p/site@${digest}`);
  });

  it.each([
    '',
    'Website',
    'gcr.io/p/Site',
    'site:-bad',
    'a//b',
    'site@sha256:xyz',
    'gcr.io/p/site:tag with space',
  ])('refuses %j with IMAGE_NAME_INVALID and a hint', (ref) => {
    const err = (() => {
      try {
        parseImageRef(ref);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(SitepipeError);
    expect((err as SitepipeError).code).toBe('IMAGE_NAME_INVALID');
    expect((err as SitepipeError).hint).toMatch(/registry/);
  });

  it('refuses a tag in image.repository', () => {
    expect(() => parseRepository('gcr.io/p/site:latest')).toThrow(/carries no :tag/);
  });
});
