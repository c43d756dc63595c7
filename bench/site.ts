import { createCipheriv, createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { execa } from 'execa';
import { packageRoot } from '../pipeline/paths.js';

/**
 * A blog-shaped Hugo site for the bench, in a temp git repo: example/'s layouts, config and
 * CSS, thousands of generated posts (tags, code blocks, images) and hundreds of media files
 * of incompressible bytes behind a JPEG or PNG header (Hugo only copies them from static/).
 * What real sites add on top, through a theme (`themes/bench`): its own static files (fonts,
 * icons, scripts), page bundles whose photos Hugo resizes and crops (.Resize, .Fill), and CSS and
 * JS built from assets/ with Hugo Pipes (minify, fingerprint) on every page.
 * Deterministic: the same counts give the same files.
 */

export interface BenchSite {
  dir: string;
  posts: number;
  images: number;
  imageBytes: number;
  git(...args: string[]): Promise<string>;
  /** Writes `files` (path relative to the site -> text) and commits them. */
  commit(message: string, files?: Record<string, string>): Promise<string>;
  /** Changes the first paragraph of post `n` (so its summary, lists, tag pages and feeds change) and commits. */
  editPost(n: number, note: string): Promise<string>;
  remove(): Promise<void>;
}

const EXAMPLE = join(packageRoot(), 'example');

/** A small deterministic PRNG (mulberry32): the site's text and sizes never vary between runs. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = `static site render layer image registry digest manifest nginx hugo template partial
taxonomy feed sitemap commit branch tag build cache upload bandwidth latency container kubernetes
deployment rollout probe health service ingress gateway certificate domain pipeline step record
config schema validation error hint retry backoff timeout stream buffer gzip tar hash checksum
content markdown front matter shortcode highlight syntax style theme asset bundle minify fingerprint
the a of to and in is that for it as with was on be by this are or from at which but not have
quick brown fox jumps over lazy dog while engineers ship small changes often and measure what
matters before they guess about performance under real load`
  .split(/\s+/)
  .filter(Boolean);

const TAGS = Array.from({ length: 60 }, (_, i) =>
  [
    'go',
    'python',
    'typescript',
    'rust',
    'shell',
    'docker',
    'kubernetes',
    'nginx',
    'hugo',
    'ci',
    'testing',
    'performance',
    'security',
    'networking',
    'databases',
  ][i % 15]?.concat(i < 15 ? '' : `-${Math.floor(i / 15)}`),
) as string[];

const CODE: Array<{ lang: string; lines: string[] }> = [
  {
    lang: 'go',
    lines: [
      'package main',
      '',
      'import (',
      '\t"fmt"',
      '\t"net/http"',
      ')',
      '',
      'func handler(w http.ResponseWriter, r *http.Request) {',
      '\tfmt.Fprintf(w, "hello %s\\n", r.URL.Path)',
      '}',
      '',
      'func main() {',
      '\thttp.HandleFunc("/", handler)',
      '\thttp.ListenAndServe("127.0.0.1:8080", nil)',
      '}',
    ],
  },
  {
    lang: 'python',
    lines: [
      'import hashlib',
      'from pathlib import Path',
      '',
      'def digest(path: Path) -> str:',
      '    h = hashlib.sha256()',
      '    with path.open("rb") as f:',
      '        for chunk in iter(lambda: f.read(1 << 20), b""):',
      '            h.update(chunk)',
      '    return h.hexdigest()',
      '',
      'for p in sorted(Path("public").rglob("*.html")):',
      '    print(digest(p), p)',
    ],
  },
  {
    lang: 'bash',
    lines: [
      '#!/bin/sh',
      'set -eu',
      'hugo --minify --destination public',
      'tar -c public | gzip -6 | sha256sum',
      'for f in public/**/*.html; do',
      '  grep -q "<title>" "$f" || echo "no title: $f"',
      'done',
    ],
  },
  {
    lang: 'yaml',
    lines: [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata:',
      '  name: website',
      'spec:',
      '  replicas: 2',
      '  template:',
      '    spec:',
      '      containers:',
      '        - name: nginx',
      '          image: registry.example.com/website@sha256:0123',
      '          ports: [{ containerPort: 8080 }]',
    ],
  },
  {
    lang: 'typescript',
    lines: [
      "import { createHash } from 'node:crypto';",
      '',
      'export function fingerprint(paths: string[]): string {',
      "  const h = createHash('sha256');",
      '  for (const p of [...paths].sort()) h.update(p + "\\n");',
      "  return h.digest('hex');",
      '}',
    ],
  },
];

function sentence(rand: () => number, min = 8, max = 18): string {
  const n = min + Math.floor(rand() * (max - min));
  const words = Array.from({ length: n }, () => WORDS[Math.floor(rand() * WORDS.length)] as string);
  const first = words[0] as string;
  words[0] = first.charAt(0).toUpperCase() + first.slice(1);
  return `${words.join(' ')}.`;
}

function paragraph(rand: () => number): string {
  return Array.from({ length: 3 + Math.floor(rand() * 4) }, () => sentence(rand)).join(' ');
}

export function postPath(n: number): string {
  return `content/posts/post-${String(n).padStart(5, '0')}.md`;
}

export function imageName(n: number): string {
  return `img-${String(n).padStart(4, '0')}.${n % 3 === 0 ? 'png' : 'jpg'}`;
}

function post(n: number, images: number): string {
  const rand = prng(n * 7919 + 17);
  const day = new Date(Date.UTC(2016, 0, 1) + n * 86_400_000 * 0.9);
  const tags = new Set<string>();
  const tagCount = 2 + Math.floor(rand() * 3);
  // Skewed towards the first tags, as real blogs are.
  while (tags.size < tagCount) tags.add(TAGS[Math.floor(rand() ** 2 * TAGS.length)] as string);
  const code = CODE[n % CODE.length] as { lang: string; lines: string[] };
  const body: string[] = [paragraph(rand), '', '<!--more-->', '', paragraph(rand), ''];
  body.push(`\`\`\`${code.lang}`, ...code.lines, '```', '', paragraph(rand), '');
  if (images > 0) {
    const img = imageName(1 + ((n * 37) % images));
    body.push(`![Figure ${n}](/images/gen/${img})`, '', paragraph(rand), '');
  }
  if (rand() < 0.5) body.push(`## ${sentence(rand, 3, 6).slice(0, -1)}`, '', paragraph(rand), '');
  const title = sentence(rand, 3, 7).slice(0, -1);
  return [
    '+++',
    `title = "${title} (${n})"`,
    `date = ${day.toISOString().replace(/\.\d+Z$/, 'Z')}`,
    `tags = [${[...tags].map((t) => `"${t}"`).join(', ')}]`,
    '+++',
    '',
    ...body,
  ].join('\n');
}

/** Incompressible bytes (AES-CTR keystream of a fixed key) behind a valid-looking header. */
function mediaFile(n: number, size: number): Buffer {
  const key = createHash('sha256').update(`bench-image-${n}`).digest();
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  const body = cipher.update(Buffer.alloc(size));
  const png = imageName(n).endsWith('.png');
  const header = png
    ? Buffer.concat([
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
        Buffer.from('IHDR'),
        Buffer.from([0, 0, 4, 0, 0, 0, 3, 0, 8, 2, 0, 0, 0, 0, 0, 0, 0]),
      ])
    : Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16]), Buffer.from('JFIF\0'), Buffer.alloc(7)]);
  header.copy(body, 0);
  if (!png) body.writeUInt16BE(0xffd9, size - 2);
  return body;
}

/** A real, decodable PNG (RGB noise, so it stays big): Hugo's image processing needs one. */
export function noisePng(seed: number, width: number, height: number): Buffer {
  const rand = prng(seed);
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let i = 0; i < raw.length; i++) raw[i] = i % (width * 3 + 1) === 0 ? 0 : Math.floor(rand() * 256);
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 1 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function crc32(data: Buffer): number {
  let c = ~0;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** The theme: static files of its own, the bundle-images partial, and Hugo Pipes CSS/JS. */
function themeFiles(): Record<string, string | Buffer> {
  const files: Record<string, string | Buffer> = {
    'themes/bench/layouts/partials/bundle-images.html': `{{ with .Resources.GetMatch "*.png" }}
{{ $big := .Resize "480x" }}{{ $thumb := .Fill "160x160 Center" }}
<figure><img src="{{ $big.RelPermalink }}" width="{{ $big.Width }}" height="{{ $big.Height }}" alt="">
<img src="{{ $thumb.RelPermalink }}" width="160" height="160" alt=""></figure>
{{ end }}
`,
    'themes/bench/layouts/partials/pipes.html': `{{ $css := resources.Get "css/theme.css" | minify | fingerprint }}
<link rel="stylesheet" href="{{ $css.RelPermalink }}" integrity="{{ $css.Data.Integrity }}">
{{ $js := resources.Get "js/app.js" | minify | fingerprint }}
<script src="{{ $js.RelPermalink }}" integrity="{{ $js.Data.Integrity }}" defer></script>
`,
    'themes/bench/assets/css/theme.css': Array.from(
      { length: 400 },
      (_, i) =>
        `.c${i} { margin: ${i % 7}px; color: #${(i * 2654435761).toString(16).slice(-6).padStart(6, '0')}; }\n`,
    ).join(''),
    'themes/bench/assets/js/app.js': Array.from(
      { length: 200 },
      (_, i) => `function f${i}(x) { return x * ${i} + ${i % 13}; }\n`,
    ).join(''),
  };
  for (let n = 0; n < 10; n++)
    files[`themes/bench/static/theme/fonts/font-${n}.woff2`] = mediaFile(10_000 + n, 30_000 + n * 3_000);
  for (let n = 0; n < 20; n++)
    files[`themes/bench/static/theme/icons/icon-${n}.svg`] =
      `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><circle cx="12" cy="12" r="${(n % 10) + 1}"/></svg>\n`;
  files['themes/bench/static/theme/vendor.js'] = Array.from(
    { length: 300 },
    (_, i) => `var v${i} = ${i};\n`,
  ).join('');
  return files;
}

/** A page bundle: a post with a photo that the theme resizes and crops. */
function bundle(n: number): Record<string, string | Buffer> {
  const dir = `content/posts/bundle-${String(n).padStart(4, '0')}`;
  return {
    [`${dir}/index.md`]: `+++\ntitle = "Photo ${n}"\ndate = ${new Date(Date.UTC(2015, 0, 1) + n * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z')}\ntags = ["photos"]\n+++\n\nA photo, resized and cropped by Hugo.\n`,
    [`${dir}/photo.png`]: noisePng(n, 320 + (n % 5) * 40, 240),
  };
}

export interface GitEnvOptions {
  /** Every commit gets this author and committer date (as the integration tests do); real time when unset. */
  pinnedDate?: string;
}

export async function generateSite(opts: {
  posts: number;
  images: number;
  /** Extra files at the site root (the sitepipe configs), committed with the site. */
  extraFiles?: Record<string, string>;
  pinnedDate?: string;
  parent?: string;
}): Promise<BenchSite> {
  const dir = await mkdtemp(join(opts.parent ?? tmpdir(), 'site-'));
  for (const part of ['layouts', 'hugo.toml', 'static/css', 'content/_index.md', 'content/about.md']) {
    await cp(join(EXAMPLE, part), join(dir, part), { recursive: true });
  }
  await mkdir(join(dir, 'static/images/gen'), { recursive: true });
  await cp(join(EXAMPLE, 'static/images'), join(dir, 'static/images'), { recursive: true });
  await mkdir(join(dir, 'content/posts'), { recursive: true });
  await cp(join(EXAMPLE, 'content/posts/_index.md'), join(dir, 'content/posts/_index.md'));
  for (let n = 1; n <= opts.posts; n++) await writeFile(join(dir, postPath(n)), post(n, opts.images));
  const sizes = prng(4242);
  let imageBytes = 0;
  for (let n = 1; n <= opts.images; n++) {
    const size = 50_000 + Math.floor(sizes() * 250_000);
    imageBytes += size;
    await writeFile(join(dir, 'static/images/gen', imageName(n)), mediaFile(n, size));
  }
  const bundles = Math.max(1, Math.floor(opts.images / 10));
  const extra: Record<string, string | Buffer> = { ...themeFiles() };
  for (let n = 1; n <= bundles; n++) Object.assign(extra, bundle(n));
  for (const [path, data] of Object.entries(extra)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), data);
  }
  // The site's layouts call the theme's partials; hugo.toml names the theme (top-level keys go before the first table).
  const single = join(dir, 'layouts/_default/single.html');
  await writeFile(
    single,
    (await readFile(single, 'utf8')).replace(
      '{{ .Content }}',
      '{{ partial "bundle-images.html" . }}\n    {{ .Content }}',
    ),
  );
  const head = join(dir, 'layouts/partials/head.html');
  await writeFile(head, `${await readFile(head, 'utf8')}{{ partial "pipes.html" . }}\n`);
  const toml = await readFile(join(dir, 'hugo.toml'), 'utf8');
  const firstTable = toml.search(/^\[/m);
  await writeFile(
    join(dir, 'hugo.toml'),
    `${toml.slice(0, firstTable)}theme = 'bench'\n\n${toml.slice(firstTable)}`,
  );
  for (const [path, text] of Object.entries(opts.extraFiles ?? {})) await writeFile(join(dir, path), text);
  await writeFile(join(dir, '.gitignore'), '.sitepipe/\npublic/\nresources/\n');

  const env: NodeJS.ProcessEnv = {
    GIT_AUTHOR_NAME: 'Bench Author',
    GIT_AUTHOR_EMAIL: 'bench@example.com',
    GIT_COMMITTER_NAME: 'Bench Author',
    GIT_COMMITTER_EMAIL: 'bench@example.com',
    ...(opts.pinnedDate ? { GIT_AUTHOR_DATE: opts.pinnedDate, GIT_COMMITTER_DATE: opts.pinnedDate } : {}),
  };
  const git = async (...args: string[]) => (await execa('git', args, { cwd: dir, env })).stdout.trim();
  const commit = async (message: string, files: Record<string, string> = {}) => {
    for (const [path, text] of Object.entries(files)) await writeFile(join(dir, path), text);
    await git('add', '-A');
    await git('commit', '-q', '-m', message);
    return git('rev-parse', 'HEAD');
  };
  await git('init', '-q', '-b', 'main');
  await commit('site');
  return {
    dir,
    posts: opts.posts,
    images: opts.images,
    imageBytes,
    git,
    commit,
    async editPost(n, note) {
      const path = postPath(n);
      const text = await readFile(join(dir, path), 'utf8');
      // The first paragraph follows the front matter's blank line: prepend a sentence to it.
      const edited = text.replace(/\+\+\+\n\n/, `+++\n\n${note} `);
      return commit(`edit post ${n}`, { [path]: edited });
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
