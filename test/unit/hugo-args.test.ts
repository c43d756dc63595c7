import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { dockerBuildArgs } from '../../pipeline/builders/docker.js';
import { bakeDockerfile, quote } from '../../pipeline/cloudbuild/docker-context.js';
import { parseConfig } from '../../pipeline/config.js';
import { hugoConfigArgs, shellWords } from '../../pipeline/hugo-options.js';
import type { HugoInstall, PygmentsInstall } from '../../pipeline/records.js';
import { hugoBuildArgs } from '../../steps/render.js';
import { problem } from '../helpers/expect-code.js';

const withHugo = (hugoKeys: string) =>
  `hugo:\n  version: 0.111.3\n${hugoKeys}\nimage: { repository: 127.0.0.1:5000/website }\n`;

/** The config's problem lines for `hugo:` keys. */
function problems(hugoKeys: string): readonly string[] {
  const err = problem(() => parseConfig(withHugo(hugoKeys), 'sitepipe.yaml'));
  expect(err.code).toBe('CONFIG_INVALID');
  return err.details;
}

/** What sh makes of `eval "set -- WORDS"`: the argument list, exactly. */
function evalWords(words: string): string[] {
  const r = spawnSync('sh', ['-c', 'eval "set -- $W"; printf "%s\\0" "$@"'], {
    env: { W: words },
    encoding: 'utf8',
  });
  return r.stdout.split('\0').slice(0, -1);
}

describe('hugo.args, hugo.env and hugo.environment in the config', () => {
  it('default to none and production', () => {
    const { hugo } = parseConfig(withHugo(''), 'x');
    expect(hugo.args).toEqual([]);
    expect(hugo.env).toEqual({});
    expect(hugo.environment).toBe('production');
  });

  it('take flags with their values, and variables of any scalar as strings', () => {
    const { hugo } = parseConfig(
      withHugo(
        [
          '  args: [--minify, --theme, ananke, --enableGitInfo=false, -DF, --config, "a b.toml"]',
          '  env: { HUGO_ENABLEGITINFO: true, HUGO_PARAMS_N: 3, MY_VAR: "x y" }',
          '  environment: staging',
        ].join('\n'),
      ),
      'x',
    );
    expect(hugo.args).toEqual([
      '--minify',
      '--theme',
      'ananke',
      '--enableGitInfo=false',
      '-DF',
      '--config',
      'a b.toml',
    ]);
    expect(hugo.env).toEqual({ HUGO_ENABLEGITINFO: 'true', HUGO_PARAMS_N: '3', MY_VAR: 'x y' });
    expect(hugo.environment).toBe('staging');
  });

  it.each([
    ['--source', /hugo\.args\.0: --source: --source is not allowed: .*site\.dir/],
    ['--source=x', /hugo\.args\.0: --source=x: --source is not allowed/],
    ['-s', /-s \(--source\) is not allowed/],
    ['--destination', /--destination is not allowed/],
    ['-d', /-d \(--destination\)/],
    ['--cacheDir', /--cacheDir is not allowed/],
    ['--baseURL', /--baseURL is not allowed: set site\.baseURL/],
    ['--baseurl=https://x/', /--baseURL is not allowed: set site\.baseURL/],
    ['-b', /-b \(--baseURL\) is not allowed: set site\.baseURL/],
    ['--environment', /--environment is not allowed: set hugo\.environment/],
    ['-e', /set hugo\.environment/],
    ['--watch', /--watch is not allowed/],
    ['-Dw', /-w \(--watch\)/],
    ['--logFile', /--logFile is not allowed/],
    ['--renderToMemory', /--renderToMemory is not allowed/],
    ['server', /`server` is a Hugo command/],
    ['ananke', /`ananke` follows no flag/],
    ['""', /is empty/],
    ['"a\\nb"', /control character/],
  ])('refuses %s with its own message, naming the key', (arg, message) => {
    expect(problems(`  args: [${arg}]`).join('\n')).toMatch(message);
  });

  it('reports every refused flag at once', () => {
    expect(problems('  args: [--minify, --source, x, -d, y, --watch]')).toHaveLength(3);
  });

  it.each([
    ['HUGO_BASEURL: x', /hugo\.env\.HUGO_BASEURL: is not allowed: set site\.baseURL/],
    ['HUGO_ENVIRONMENT: x', /set hugo\.environment/],
    ['HUGO_RESOURCEDIR: x', /is not allowed/],
    ['SITEPIPE_X: x', /sitepipe’s own/],
    ['"A-B": x', /hugo\.env\.A-B: is not a variable name/],
    ['A: "x\\ny"', /control character/],
  ])('refuses the variable %s', (entry, message) => {
    expect(problems(`  env: { ${entry} }`).join('\n')).toMatch(message);
  });

  it('refuses git info with the docker builder, whose build has no .git (the flag wins over the variable)', () => {
    const docker = (hugoKeys: string) =>
      `hugo:\n  version: 0.111.3\n${hugoKeys}\nimage: { repository: r.test/w, builder: docker }\n`;
    const refused = (keys: string) => problem(() => parseConfig(docker(keys), 'x')).details.join('\n');
    expect(refused('  args: [--enableGitInfo]')).toMatch(/^hugo: Hugo's git info .*image\.builder: oci/m);
    expect(refused('  env: { HUGO_ENABLEGITINFO: true }')).toMatch(/git info/);
    expect(
      parseConfig(docker('  args: [--enableGitInfo=false]\n  env: { HUGO_ENABLEGITINFO: true }'), 'x').hugo
        .args,
    ).toEqual(['--enableGitInfo=false']);
    expect(parseConfig(withHugo('  args: [--enableGitInfo]'), 'x').hugo.args).toEqual(['--enableGitInfo']);
  });

  it('refuses an environment name that is no name', () => {
    expect(problems('  environment: "a b"').join('\n')).toMatch(
      /hugo\.environment: must be an environment name/,
    );
  });
});

describe('the local render', () => {
  it('passes hugo.args last, after the flags sitepipe sets', () => {
    const args = hugoBuildArgs('/s', '/o', {
      environment: 'staging',
      extraArgs: ['--minify', '--theme', 'a b'],
    });
    expect(args.slice(-3)).toEqual(['--minify', '--theme', 'a b']);
    expect(args.slice(args.indexOf('--environment'), args.indexOf('--environment') + 2)).toEqual([
      '--environment',
      'staging',
    ]);
  });

  it('asks `hugo config` with only the flags that change the config and that it accepts', () => {
    expect(
      hugoConfigArgs([
        '--minify',
        '--config',
        'a.toml,b.toml',
        '--theme',
        'x',
        '--themesDir=t',
        '--configDir',
        'c',
      ]),
    ).toEqual(['--config', 'a.toml,b.toml', '--themesDir=t', '--configDir', 'c']);
  });
});

describe('the Docker build', () => {
  const tricky = [
    '--theme',
    'my theme',
    "--a=it's",
    '--b="quoted"',
    '--c=back\\slash',
    '--d=$HOME',
    '--e=`id`',
    '--f',
    '*',
  ];
  const config = parseConfig(
    withHugo(
      `  args: ${JSON.stringify(tricky)}\n  env: { HUGO_ENABLEGITINFO: "false", V: "it's $HOME" }\n  environment: staging`,
    ),
    'x',
  );
  const hugo = { version: '0.111.3', path: '/usr/bin/hugo' } as HugoInstall;
  const pygments = { enabled: false, css: null } as unknown as PygmentsInstall;
  const args = dockerBuildArgs(config, hugo, pygments, '/');

  it('gets hugo.args and hugo.env as shell words that sh evals back to exactly the strings', () => {
    expect(evalWords(args.SITEPIPE_HUGO_ARGS as string)).toEqual(tricky);
    expect(evalWords(args.SITEPIPE_HUGO_ENV as string)).toEqual(['HUGO_ENABLEGITINFO=false', "V=it's $HOME"]);
    expect(args.SITEPIPE_HUGO_ENVIRONMENT).toBe('staging');
    expect(shellWords([])).toBe('');
  });

  it('keeps them exact when Cloud Build bakes them into the Dockerfile ($ escaped: ARG expands it)', () => {
    expect(quote('$HOME "x" \\')).toBe('"\\$HOME \\"x\\" \\\\"');
    const baked = bakeDockerfile('ARG SITEPIPE_HUGO_ARGS=""\nRUN true\n', args, {});
    expect(baked).toContain(`ARG SITEPIPE_HUGO_ARGS=${quote(args.SITEPIPE_HUGO_ARGS as string)}\n`);
    expect(() => quote('a\nb')).toThrow(/control character/);
  });
});
