import { Parser } from 'tar';
import { connectDocker } from '../../pipeline/clients/docker.js';
import { SITE_ROOT } from '../../pipeline/nginx.js';

export type WebRootEntry =
  | { type: 'file'; content: Buffer }
  | { type: 'link'; target: string }
  | { type: 'dir' };

/** Every entry of an image's served web root (SITE_ROOT), by path relative to it. */
export async function webRoot(ref: string): Promise<Map<string, WebRootEntry>> {
  const docker = await connectDocker(process.env);
  const container = await docker.createContainer({ Image: ref });
  const entries = new Map<string, WebRootEntry>();
  try {
    const archive = await container.getArchive({ path: SITE_ROOT });
    await new Promise<void>((resolve, reject) => {
      const parser = new Parser({
        onReadEntry: (entry) => {
          // getArchive names entries from the root's own basename.
          const rel = entry.path.replace(/^[^/]+\/?/, '').replace(/\/$/, '');
          if (entry.type === 'File') {
            const chunks: Buffer[] = [];
            entry.on('data', (c: Buffer) => chunks.push(c));
            entry.on('end', () => entries.set(rel, { type: 'file', content: Buffer.concat(chunks) }));
            return;
          }
          entries.set(
            rel,
            entry.type === 'SymbolicLink' ? { type: 'link', target: entry.linkpath ?? '' } : { type: 'dir' },
          );
          entry.resume();
        },
      });
      parser.on('end', resolve);
      parser.on('error', reject);
      archive.on('error', reject);
      archive.pipe(parser);
    });
  } finally {
    await container.remove({ force: true });
  }
  return entries;
}
