import { describe, expect, it } from 'vitest';
import { publicSourceUrl } from '../../pipeline/clients/git.js';

describe('publicSourceUrl: one spelling of the origin in the image, whatever the clone used', () => {
  it('gives every way of naming one repository the same URL, without credentials', () => {
    for (const remote of [
      'git@github.com:org/site.git',
      'ssh://git@github.com/org/site.git',
      'ssh://git@github.com:22/org/site',
      'https://github.com/org/site.git',
      'https://x-access-token:ghs_secret@github.com/org/site',
      'https://github.com/org/site/',
      'git://github.com/org/site.git',
    ]) {
      expect(publicSourceUrl(remote), remote).toBe('https://github.com/org/site');
    }
  });

  it('names no source for a remote on this machine', () => {
    for (const remote of ['/srv/git/site.git', 'file:///srv/git/site.git', '../site', '']) {
      expect(publicSourceUrl(remote), remote).toBeNull();
    }
  });
});
