import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerManifests } from '../../pipeline/commands/manifests.js';
import { type LoadedConfig, parseConfig } from '../../pipeline/config.js';
import { parseManifestsYaml, validateManifests } from '../../pipeline/kube/manifests.js';
import { tempDir } from '../helpers/temp.js';

const BASE = 'hugo: { version: 0.111.3 }\nimage: { repository: gcr.io/p/site }\n';
const DEPLOY = 'deploy:\n  hosts: [www.example.com]\n  frontends: { mode: gateway }\n';
const IMAGE = `gcr.io/p/site@sha256:${'0'.repeat(64)}`;

/** Runs `sitepipe ARGS` with the manifests command registered; config text stands in for the file. */
async function run(args: string[], configYaml = BASE + DEPLOY) {
  const out: string[] = [];
  const err: string[] = [];
  let exitCode = 0;
  const loaded: string[] = [];
  const load = async (file: string): Promise<LoadedConfig> => {
    loaded.push(file);
    return { config: parseConfig(configYaml, file), path: file, siteDir: '/site' };
  };
  const program = new Command('sitepipe').exitOverride();
  registerManifests(program, load, {
    stdout: { write: (t: string) => out.push(t) },
    stderr: { write: (t: string) => err.push(t) },
    setExitCode: (c) => {
      exitCode = c;
    },
  });
  await program.parseAsync(args, { from: 'user' });
  return { stdout: out.join(''), stderr: err.join(''), exitCode, loaded };
}

describe('sitepipe manifests', () => {
  it('prints valid multi-document YAML with the gcloud commands on top', async () => {
    const { stdout, stderr, exitCode, loaded } = await run(['manifests', '--image', IMAGE]);
    expect(exitCode).toBe(0);
    expect(loaded).toEqual(['sitepipe.yaml']);
    expect(stderr).toBe('');
    expect(stdout).toMatch(/^# Create these Google Cloud resources first/);
    expect(stdout).toContain('#   gcloud compute addresses create website-ipv4 --global --ip-version IPV4\n');
    expect(stdout).toContain('#   gcloud compute addresses create website-ipv6 --global --ip-version IPV6\n');
    const objects = parseManifestsYaml(stdout);
    validateManifests(objects);
    expect(objects[0]?.kind).toBe('Namespace');
    expect(objects.map((o) => o.kind)).toContain('Gateway');
    expect(stdout).toContain(`image: ${IMAGE}`);
  });

  it('warns about the placeholder image on stderr, keeping stdout pure YAML', async () => {
    const { stdout, stderr, exitCode } = await run(['manifests', '-c', 'site/sitepipe.yaml']);
    expect(exitCode).toBe(0);
    expect(stderr).toMatch(/warning: the Deployment's image is the placeholder gcr\.io\/p\/site:<tag>/);
    expect(stdout).toContain('image: gcr.io/p/site:<tag>');
    expect(() => parseManifestsYaml(stdout)).not.toThrow();
  });

  it('warns that two-ingress HTTP-01 depends on the IPv6 path', async () => {
    const { stderr } = await run(
      ['manifests', '--image', IMAGE],
      `${BASE}deploy:\n  hosts: [www.example.com]\n`,
    );
    expect(stderr).toMatch(/HTTP-01 in two-ingress mode: the challenge path goes on the IPv6 Ingress only/);
  });

  it('writes files with --out', async () => {
    const dir = join(await tempDir('sitepipe-cmd-'), 'k8s');
    const { stdout, exitCode } = await run(['manifests', '--out', dir, '--image', IMAGE]);
    expect(exitCode).toBe(0);
    const files = await readdir(dir);
    expect(files).toContain('00-namespace-website.yaml');
    expect(files).toContain('gcloud.sh');
    expect(files).toContain('README.md');
    expect(stdout.trim().split('\n')).toHaveLength(files.length);
    expect(stdout).toMatch(/^wrote .*00-namespace-website\.yaml$/m);
  });

  it('says DEPLOY_CONFIG_MISSING, with a minimal deploy block, and fails', async () => {
    const { stdout, stderr, exitCode } = await run(['manifests'], BASE);
    expect(exitCode).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^error\[DEPLOY_CONFIG_MISSING\]: /);
    expect(stderr).toMatch(/hint: .*deploy:\n\s+hosts: \[www\.example\.com/s);
  });

  it('reports a bad --image as IMAGE_NAME_INVALID', async () => {
    const { stderr, exitCode } = await run(['manifests', '--image', 'UPPER/Case']);
    expect(exitCode).toBe(1);
    expect(stderr).toMatch(/error\[IMAGE_NAME_INVALID\]/);
  });

  it('reads the config file through the real loader by default', async () => {
    const dir = await tempDir('sitepipe-cmd-');
    const file = join(dir, 'sitepipe.yaml');
    await writeFile(file, BASE + DEPLOY);
    const out: string[] = [];
    const program = new Command('sitepipe').exitOverride();
    let code = 0;
    registerManifests(program, undefined, {
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: () => true },
      setExitCode: (c) => {
        code = c;
      },
    });
    await program.parseAsync(['manifests', '--config', file, '--image', IMAGE], { from: 'user' });
    expect(code).toBe(0);
    expect(parseManifestsYaml(out.join('')).length).toBeGreaterThan(5);
  });
});
