import { existsSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Command } from 'commander';
import { HUGO_CONFIG_FILES } from '../../steps/render.js';
import { siteBase } from '../base-path.js';
import { DEFAULT_CONFIG_FILE, parseConfig } from '../config.js';
import { configSchemaPath } from '../config-json-schema.js';
import { SitepipeError, usageError } from '../errors.js';
import { runProcess } from '../process.js';
import { parseImageRef } from '../reference.js';
import { withReporter } from './context.js';

/**
 * `sitepipe init`: a sitepipe.yaml for the Hugo site in the current directory (its Hugo config
 * and version detected), `.sitepipe/` in .gitignore, and optionally a deploy section and a
 * cloudbuild.yaml. Nothing is prompted for (it runs in scripts); nothing is overwritten unless --force.
 */

export interface InitOptions {
  /** The Hugo site; sitepipe.yaml goes here. */
  dir: string;
  repository?: string;
  hugoVersion?: string;
  builder?: 'oci' | 'docker';
  base?: string;
  builderBase?: string;
  /** true: hosts from the site's baseURL; a list: those hosts. */
  deploy?: boolean | string[];
  cloudbuild?: boolean;
  force?: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface InitResult {
  /** Files written, relative to dir. */
  written: string[];
  hugoConfig: string;
  hugoVersion: string;
  /** Where the version came from, e.g. `hugo version` or netlify.toml. */
  versionFrom: string;
}

/** The site's Hugo config (a file, or config/_default/), relative to dir. */
export function findHugoConfig(dir: string): string {
  for (const name of HUGO_CONFIG_FILES) {
    if (existsSync(join(dir, name)) && statSync(join(dir, name)).isFile()) return name;
  }
  if (existsSync(join(dir, 'config', '_default'))) return 'config/_default/';
  throw new SitepipeError(
    'SITE_NOT_HUGO',
    `${dir} is not a Hugo site: it has no hugo.toml, config.toml (or .yaml/.json) and no config/_default/`,
    'run `sitepipe init` in the directory that holds the Hugo config',
  );
}

const VERSION = /v?(\d+\.\d+\.\d+)/;

async function readIfExists(path: string): Promise<string | null> {
  return readFile(path, 'utf8').catch(() => null);
}

/** The pins sites keep for other tools, in order: .hugo-version, netlify.toml, $HUGO_VERSION. */
async function pinnedHugoVersion(
  dir: string,
  env: NodeJS.ProcessEnv,
): Promise<{ version: string; from: string } | null> {
  const file = (await readIfExists(join(dir, '.hugo-version')))?.trim().match(VERSION)?.[1];
  if (file) return { version: file, from: '.hugo-version' };
  const netlify = (await readIfExists(join(dir, 'netlify.toml')))?.match(
    /HUGO_VERSION\s*=\s*["']v?(\d+\.\d+\.\d+)["']/,
  )?.[1];
  if (netlify) return { version: netlify, from: 'netlify.toml' };
  const fromEnv = env.HUGO_VERSION?.match(VERSION)?.[1];
  if (fromEnv) return { version: fromEnv, from: 'HUGO_VERSION' };
  return null;
}

/** `hugo version` of a hugo on PATH: its version and whether it is the extended build. */
async function hugoOnPath(env: NodeJS.ProcessEnv): Promise<{ version: string; extended: boolean } | null> {
  try {
    const { stdout } = await runProcess('hugo', ['version'], { env, timeoutMs: 30_000 });
    const version = stdout.match(/\bv(\d+\.\d+\.\d+)/)?.[1];
    return version ? { version, extended: /\+extended\b/.test(stdout) } : null;
  } catch {
    return null;
  }
}

async function detectHugo(
  dir: string,
  opts: InitOptions,
  env: NodeJS.ProcessEnv,
): Promise<{ version: string; from: string; extended: boolean }> {
  if (opts.hugoVersion !== undefined) {
    if (!/^\d+\.\d+\.\d+$/.test(opts.hugoVersion)) {
      throw usageError(
        `--hugo-version ${opts.hugoVersion} is not a release version`,
        'e.g. --hugo-version 0.111.3',
      );
    }
    return { version: opts.hugoVersion, from: '--hugo-version', extended: true };
  }
  // The site's own pin beats whatever Hugo this machine happens to have.
  const pinned = await pinnedHugoVersion(dir, env);
  if (pinned) return { ...pinned, extended: true };
  const onPath = await hugoOnPath(env);
  if (onPath) return { ...onPath, from: '`hugo version`' };
  throw new SitepipeError(
    'HUGO_VERSION_UNKNOWN',
    'cannot tell which Hugo the site is built with: no hugo on PATH, no .hugo-version, no HUGO_VERSION in netlify.toml or the environment',
    'pass the release the site is built with, e.g. `sitepipe init --hugo-version 0.111.3`',
  );
}

/** The `$schema` reference: relative to the config when the package is below the site (node_modules), else absolute. */
export function schemaReference(dir: string): string {
  const rel = relative(dir, configSchemaPath());
  return rel.startsWith('..') || isAbsolute(rel) ? configSchemaPath() : rel.split(sep).join('/');
}

async function deployHosts(dir: string, deploy: true | string[], env: NodeJS.ProcessEnv): Promise<string[]> {
  if (Array.isArray(deploy) && deploy.length > 0) return deploy;
  const hint = 'name the hosts the site answers on: `sitepipe init --deploy www.example.com example.com`';
  if (!(await hugoOnPath(env))) {
    throw usageError('--deploy needs host names, and no hugo on PATH can tell the site’s baseURL', hint);
  }
  const { url } = await siteBase({ hugoPath: 'hugo', siteDir: dir });
  const host = URL.canParse(url) ? new URL(url).hostname : '';
  if (host === '' || host === 'localhost' || /(^|\.)example\.(com|org)$/.test(host)) {
    throw usageError(
      `--deploy needs host names: the site's baseURL (${url || 'none'}) names no real host`,
      hint,
    );
  }
  return [host];
}

function configText(opts: {
  schema: string;
  hugoConfig: string;
  hugo: { version: string; from: string; extended: boolean };
  repository: string;
  builder?: string;
  base?: string;
  builderBase?: string;
  hosts: string[] | null;
}): string {
  const image = [`  repository: ${opts.repository}`];
  if (opts.builder) image.push(`  builder: ${opts.builder}`);
  if (opts.base) image.push(`  base: ${opts.base}`);
  if (opts.builderBase) image.push(`  builderBase: ${opts.builderBase}`);
  const lines = [
    `# yaml-language-server: $schema=${opts.schema}`,
    '# sitepipe config, written by `sitepipe init`. Every key is in the README of the sitepipe package.',
    'version: 1',
    'site:',
    `  dir: . # the Hugo site (its config: ${opts.hugoConfig})`,
    'hugo:',
    `  version: ${opts.hugo.version} # from ${opts.hugo.from}`,
    `  extended: ${opts.hugo.extended}`,
    '  # args: [--minify] # flags for every build, e.g. --theme NAME',
    '  # env: { HUGO_ENABLEGITINFO: "false" }',
    'image:',
    ...image,
  ];
  if (opts.hosts) {
    lines.push(
      '# Kubernetes (docs/kubernetes.md in the sitepipe package): `sitepipe manifests`, then `sitepipe run` deploys.',
      'deploy:',
      '  namespace: website',
      '  name: website',
      `  hosts: [${opts.hosts.join(', ')}]`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Adds `.sitepipe/` (records, the rendered site) to .gitignore, once. */
async function ignoreStateDir(dir: string): Promise<boolean> {
  const path = join(dir, '.gitignore');
  const text = (await readIfExists(path)) ?? '';
  const lines = text.split('\n').map((l) => l.trim());
  if (lines.some((l) => ['.sitepipe', '.sitepipe/', '/.sitepipe', '/.sitepipe/'].includes(l))) return false;
  await writeFile(path, `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}.sitepipe/\n`);
  return true;
}

export async function initSite(opts: InitOptions): Promise<InitResult> {
  const dir = resolve(opts.dir);
  const env = opts.env ?? process.env;
  if (!opts.repository) {
    throw usageError(
      'sitepipe init needs --repository: the registry repository the image goes to',
      'e.g. `sitepipe init --repository gcr.io/my-project/website`',
    );
  }
  try {
    parseImageRef(opts.repository);
  } catch (e) {
    throw usageError(
      `--repository ${opts.repository}: ${(e as Error).message}`,
      'e.g. --repository gcr.io/my-project/website',
    );
  }
  const targets = [DEFAULT_CONFIG_FILE, ...(opts.cloudbuild ? ['cloudbuild.yaml'] : [])];
  const existing = targets.filter((f) => existsSync(join(dir, f)));
  if (existing.length > 0 && !opts.force) {
    throw new SitepipeError(
      'INIT_FILE_EXISTS',
      `${existing.join(' and ')} already exist${existing.length === 1 ? 's' : ''} in ${dir}`,
      'edit it, or pass --force to replace it with a new one',
    );
  }
  const hugoConfig = findHugoConfig(dir);
  const hugo = await detectHugo(dir, opts, env);
  const hosts = opts.deploy ? await deployHosts(dir, opts.deploy, env) : null;
  const text = configText({
    ...opts,
    schema: schemaReference(dir),
    hugoConfig,
    hugo,
    repository: opts.repository,
    hosts,
  });
  // What init writes must load: a flag's value that the schema refuses fails here, before any file is written.
  parseConfig(text, join(dir, DEFAULT_CONFIG_FILE));
  await writeFile(join(dir, DEFAULT_CONFIG_FILE), text);
  const written = [DEFAULT_CONFIG_FILE];
  if (await ignoreStateDir(dir)) written.push('.gitignore');
  if (opts.cloudbuild) {
    // Loaded here: the generator pulls in the Cloud Build modules, which other commands need not pay for.
    const { generateForConfig } = await import('./cloudbuild.js');
    const { text: build } = await generateForConfig(join(dir, DEFAULT_CONFIG_FILE));
    await writeFile(join(dir, 'cloudbuild.yaml'), build);
    written.push('cloudbuild.yaml');
  }
  return { written, hugoConfig, hugoVersion: hugo.version, versionFrom: hugo.from };
}

type InitFlags = Omit<InitOptions, 'dir' | 'env'> & { json?: boolean };

export function registerInit(program: Command): Command {
  return program
    .command('init')
    .description('write a sitepipe.yaml for the Hugo site in this directory (and .sitepipe/ in .gitignore)')
    .option('-r, --repository <image>', 'where the image goes, e.g. gcr.io/my-project/website (required)')
    .option(
      '--hugo-version <version>',
      'the Hugo release (default: .hugo-version, netlify.toml, $HUGO_VERSION, else `hugo version`)',
    )
    .option('--builder <builder>', 'image.builder: oci (default) or docker')
    .option('--base <image>', 'image.base: the nginx image the site goes onto')
    .option('--builder-base <image>', 'image.builderBase: stage 1 of the docker builder')
    .option(
      '--deploy [hosts...]',
      'add a deploy: section (Kubernetes), for these hosts (default: the baseURL’s)',
    )
    .option('--cloudbuild', 'write cloudbuild.yaml too')
    .option('-f, --force', 'replace sitepipe.yaml (and cloudbuild.yaml) if they exist')
    .option('--json', 'print NDJSON events')
    .action(async (flags: InitFlags) => {
      process.exitCode = await withReporter(flags, async (reporter) => {
        if (flags.builder !== undefined && flags.builder !== 'oci' && flags.builder !== 'docker') {
          throw usageError(`--builder ${flags.builder}: must be oci or docker`, 'e.g. --builder docker');
        }
        const result = await initSite({ ...flags, dir: process.cwd() });
        reporter.result(
          { ...result },
          [
            `wrote ${result.written.join(', ')} (Hugo ${result.hugoVersion} from ${result.versionFrom}, config ${result.hugoConfig})`,
            `next: commit ${result.written.length > 1 ? 'them' : 'it'}, then \`sitepipe run\``,
          ].join('\n'),
        );
      });
    });
}
