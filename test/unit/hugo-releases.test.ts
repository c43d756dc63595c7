import { describe, expect, it } from 'vitest';
import {
  archiveName,
  checksumsName,
  compareVersions,
  hugoCachePath,
  parseChecksums,
  parseHugoVersion,
  releaseUrl,
} from '../../pipeline/clients/hugo-releases.js';

describe('archiveName', () => {
  it('uses the lowercase platform names from 0.103.0 on', () => {
    expect(archiveName('0.111.3', true, 'linux-amd64')).toBe('hugo_extended_0.111.3_linux-amd64.tar.gz');
    expect(archiveName('0.111.3', false, 'linux-amd64')).toBe('hugo_0.111.3_linux-amd64.tar.gz');
    expect(archiveName('0.111.3', true, 'linux-arm64')).toBe('hugo_extended_0.111.3_linux-arm64.tar.gz');
    expect(archiveName('0.103.0', false, 'linux-arm64')).toBe('hugo_0.103.0_linux-arm64.tar.gz');
  });

  it('uses the legacy platform names before 0.103.0', () => {
    expect(archiveName('0.80.0', true, 'linux-amd64')).toBe('hugo_extended_0.80.0_Linux-64bit.tar.gz');
    expect(archiveName('0.80.0', false, 'linux-amd64')).toBe('hugo_0.80.0_Linux-64bit.tar.gz');
    expect(archiveName('0.102.3', false, 'linux-arm64')).toBe('hugo_0.102.3_Linux-ARM64.tar.gz');
  });
});

describe('release layout', () => {
  it('names the checksums file and builds URLs under v<version>/', () => {
    expect(checksumsName('0.111.3')).toBe('hugo_0.111.3_checksums.txt');
    expect(releaseUrl('https://github.com/gohugoio/hugo/releases/download', '0.111.3', 'x.tar.gz')).toBe(
      'https://github.com/gohugoio/hugo/releases/download/v0.111.3/x.tar.gz',
    );
    expect(releaseUrl('http://127.0.0.1:8000/mirror/', '0.80.0', 'y')).toBe(
      'http://127.0.0.1:8000/mirror/v0.80.0/y',
    );
  });

  it('keeps editions apart in the cache', () => {
    expect(hugoCachePath('/c', '0.111.3', true)).toBe('/c/hugo/0.111.3-extended/hugo');
    expect(hugoCachePath('/c', '0.111.3', false)).toBe('/c/hugo/0.111.3/hugo');
  });

  it('compares versions numerically, not as text', () => {
    expect(compareVersions('0.103.0', '0.99.1')).toBeGreaterThan(0);
    expect(compareVersions('0.102.3', '0.103.0')).toBeLessThan(0);
    expect(compareVersions('0.111.3', '0.111.3')).toBe(0);
    expect(compareVersions('1.0.0', '0.200.0')).toBeGreaterThan(0);
  });
});

describe('parseChecksums', () => {
  const a = 'a'.repeat(64);
  const b = 'B'.repeat(64);

  it('maps file names to lowercase digests', () => {
    const text = `${a}  hugo_0.111.3_linux-amd64.tar.gz\n${b}  hugo_extended_0.111.3_linux-amd64.tar.gz\n`;
    const sums = parseChecksums(text);
    expect(sums.get('hugo_0.111.3_linux-amd64.tar.gz')).toBe(a);
    expect(sums.get('hugo_extended_0.111.3_linux-amd64.tar.gz')).toBe('b'.repeat(64));
    expect(sums.size).toBe(2);
  });

  it('accepts binary-mode markers, CRLF and blank lines; ignores malformed lines', () => {
    const text = `\r\n${a} *hugo.tar.gz\r\nnot a checksum line\n${'c'.repeat(63)}  short.tar.gz\n`;
    const sums = parseChecksums(text);
    expect([...sums]).toEqual([['hugo.tar.gz', a]]);
  });
});

describe('parseHugoVersion', () => {
  it('reads the Debian build', () => {
    expect(
      parseHugoVersion(
        'hugo v0.111.3+extended linux/amd64 BuildDate=2023-03-16T08:41:31Z VendorInfo=debian:0.111.3-1',
      ),
    ).toEqual({ version: '0.111.3', extended: true });
  });

  it('reads an official build with a commit hash', () => {
    expect(
      parseHugoVersion(
        'hugo v0.111.3-5d4eb5154e1fed125ca8e9b5a0315c4180dab192+extended linux/amd64 BuildDate=2023-03-12T11:40:50Z VendorInfo=gohugoio',
      ),
    ).toEqual({ version: '0.111.3', extended: true });
  });

  it('reads non-extended and extended+withdeploy builds', () => {
    expect(parseHugoVersion('hugo v0.111.3-5d4eb515 linux/amd64 BuildDate=unknown')).toEqual({
      version: '0.111.3',
      extended: false,
    });
    expect(parseHugoVersion('hugo v0.140.0-1ee1a8ae+extended+withdeploy linux/arm64 BuildDate=x')).toEqual({
      version: '0.140.0',
      extended: true,
    });
  });

  it('reads the pre-0.81 format', () => {
    expect(
      parseHugoVersion(
        'Hugo Static Site Generator v0.80.0-792EF0F4/extended linux/amd64 BuildDate: 2020-12-31',
      ),
    ).toEqual({ version: '0.80.0', extended: true });
  });

  it('keeps -DEV so a development build never matches a release', () => {
    expect(parseHugoVersion('hugo v0.112.0-DEV+extended linux/amd64 BuildDate=unknown')).toEqual({
      version: '0.112.0-DEV',
      extended: true,
    });
  });

  it('returns null for anything else', () => {
    expect(parseHugoVersion('command not found')).toBeNull();
    expect(parseHugoVersion('')).toBeNull();
  });
});
