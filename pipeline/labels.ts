import type { SourceInfo, TagPlan } from './records.js';

/** OCI annotation keys, used as image labels (https://github.com/opencontainers/image-spec). */
export function imageLabels(source: SourceInfo, tags: TagPlan, baseImage: string): Record<string, string> {
  return {
    'org.opencontainers.image.revision': source.commit,
    'org.opencontainers.image.created': source.commitTime,
    'org.opencontainers.image.version': tags.commitTag,
    ...(source.sourceUrl ? { 'org.opencontainers.image.source': source.sourceUrl } : {}),
    'org.opencontainers.image.base.name': baseImage,
    ...(source.branch ? { 'io.sitepipe.branch': source.branch } : {}),
  };
}
