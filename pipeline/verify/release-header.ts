import type { Config } from '../config.js';
import { SitepipeError } from '../errors.js';

/** The response header that says which release a frontend serves: the image's commit tag. */
export const RELEASE_HEADER = 'Sitepipe-Release';

/** A commit tag (`0123456789ab`, `0123456789ab-dirty`): safe to write into nginx's config unquoted. */
const RELEASE_VALUE = /^[0-9A-Za-z][0-9A-Za-z._-]{0,127}$/;

/** The header's value for an image built from `commitTag`; null when `image.releaseHeader` is off. */
export function releaseHeaderValue(config: Pick<Config, 'image'>, commitTag: string): string | null {
  return config.image.releaseHeader ? commitTag : null;
}

/**
 * The nginx directive that sends the release header, for the server config of the image; ''
 * when there is no release. nginx gives a block the add_header directives of the enclosing
 * one only when it has none of its own, so this goes into the server block and into every
 * location that has an add_header (the static-asset one, with Cache-Control). `always`: 404s
 * and redirects carry it too.
 */
export function releaseHeaderDirective(release: string | null, indent = '    '): string {
  if (release === null) return '';
  if (!RELEASE_VALUE.test(release)) {
    throw new SitepipeError(
      'RELEASE_HEADER_INVALID',
      `${JSON.stringify(release)} cannot be sent as the ${RELEASE_HEADER} header`,
      'the release is the commit tag; this is a bug in sitepipe, please report it',
    );
  }
  return `${indent}add_header ${RELEASE_HEADER} ${release} always;\n`;
}

const HEX_RELEASE = /^[0-9a-f]{7,40}$/;

/**
 * Whether a frontend serving `served` serves `expected`. Equal values match; a commit matches
 * its abbreviations either way (the header carries tags.commitLength characters, the cluster
 * knows the full commit), at least 7 characters of it, as git abbreviates.
 */
export function releaseMatches(served: string, expected: string): boolean {
  if (served === expected) return true;
  if (!HEX_RELEASE.test(served) || !HEX_RELEASE.test(expected)) return false;
  return served.startsWith(expected) || expected.startsWith(served);
}
