import { SitepipeError } from './errors.js';

/** A parsed image reference, normalised the way Docker does (nginx -> docker.io/library/nginx). */
export interface ImageRef {
  /** Registry host[:port], e.g. docker.io, gcr.io, 127.0.0.1:5000. */
  registry: string;
  /** Repository path inside the registry, e.g. library/nginx, my-project/website. */
  path: string;
  tag: string | null;
  digest: string | null;
}

export const DOCKER_HUB = 'docker.io';

// The grammar of github.com/distribution/reference, reduced to what we need to validate.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::\d+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

function invalid(
  ref: string,
  why: string,
  hint = 'use [registry/]path[:tag], lowercase, e.g. gcr.io/my-project/website or 127.0.0.1:5000/website',
): SitepipeError {
  return new SitepipeError('IMAGE_NAME_INVALID', `"${ref}" is not a valid image name: ${why}`, hint);
}

export function parseImageRef(ref: string): ImageRef {
  let rest = ref.trim();
  if (rest === '') throw invalid(ref, 'it is empty');
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid(ref, `digest "${digest}" is not sha256:<64 hex>`);
  }
  let tag: string | null = null;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(ref, `tag "${tag}" may only hold letters, digits, _ . - (max 128)`);
  }
  const parts = rest.split('/');
  const first = parts[0] ?? '';
  // Like Docker: the first component is a registry only if it looks like a host.
  const hasRegistry =
    parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  const registry = hasRegistry ? first : DOCKER_HUB;
  const pathParts = hasRegistry ? parts.slice(1) : parts;
  if (hasRegistry && !DOMAIN.test(registry))
    throw invalid(ref, `registry "${registry}" is not a host[:port]`);
  for (const component of pathParts) {
    if (!PATH_COMPONENT.test(component)) {
      throw invalid(
        ref,
        `path component "${component}" must be lowercase letters, digits and separators . _ -`,
      );
    }
  }
  if (registry === DOCKER_HUB && pathParts.length === 1) pathParts.unshift('library');
  const path = pathParts.join('/');
  if (registry.length + 1 + path.length > 255) throw invalid(ref, 'the name is longer than 255 characters');
  return { registry, path, tag, digest };
}

/** registry/path, the name used for pushes and tags. */
export function repositoryName(ref: ImageRef): string {
  return `${ref.registry}/${ref.path}`;
}

export function formatImageRef(ref: ImageRef): string {
  return `${repositoryName(ref)}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** `ref` as written, without its :tag and @digest. */
function withoutTag(ref: string): string {
  return ref
    .trim()
    .replace(/@.*$/, '')
    .replace(/:[^:/]*$/, '');
}

/** A repository for pushing must not carry a tag or digest of its own. */
export function parseRepository(ref: string): ImageRef {
  const parsed = parseImageRef(ref);
  if (parsed.tag || parsed.digest) {
    throw invalid(
      ref,
      'image.repository names where tags go, so it carries no :tag or @digest',
      `drop the ${parsed.digest ? '@digest' : ':tag'}: image.repository: ${withoutTag(ref)} (sitepipe sets the tags, see tags.commit and tags.branch)`,
    );
  }
  return parsed;
}
