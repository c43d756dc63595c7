import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../pipeline/config.js';
import { SitepipeError } from '../../pipeline/errors.js';
import { Reporter } from '../../pipeline/output.js';
import { type AnyStep, runPipeline } from '../../pipeline/runner.js';
import { defineStep, type RunContext } from '../../pipeline/step.js';

const commit = 'a'.repeat(40);
const config = parseConfig('hugo: { version: 0.111.3 }\nimage: { repository: 127.0.0.1:5000/site }\n', 'x');

/** Three small steps: source -> tag (pure) -> push (mutating), recording what ran. */
function steps(
  ran: string[],
  opts: { pushPreflight?: () => Promise<void>; tagPreflight?: () => Promise<void> } = {},
) {
  const source = defineStep({
    name: 'source',
    needs: [],
    mutates: false,
    description: 'source',
    async run() {
      ran.push('source');
      return {
        commit,
        shortSha: 'aaaaaaaaaaaa',
        branch: 'main',
        commitTime: '2026-01-01T00:00:00.000Z',
        dirty: false,
        sourceUrl: null,
      };
    },
  });
  const tag = defineStep({
    name: 'tag',
    needs: ['source'],
    mutates: false,
    description: 'tag',
    preflight: opts.tagPreflight,
    async run(_ctx, { source }) {
      ran.push('tag');
      return {
        commit: source.commit,
        repository: 'r',
        tags: [source.shortSha],
        commitTag: source.shortSha,
        branchTag: null,
      };
    },
  });
  const push = defineStep({
    name: 'push',
    needs: ['tag'],
    mutates: true,
    description: 'push',
    preflight: opts.pushPreflight,
    plan: (_ctx, { tag }) => `push r:${tag?.commitTag}`,
    async run(_ctx, { tag }) {
      ran.push('push');
      return { commit: tag.commit, repository: 'r', tags: tag.tags, digest: `sha256:${'b'.repeat(64)}` };
    },
  });
  return [source, tag, push] as unknown as AnyStep[];
}

async function run(
  pipeline: AnyStep[],
  only: string[],
  dryRun = false,
  stateDir?: string,
  lines: string[] = [],
) {
  const reporter = new Reporter('plain', { write: (t: string) => lines.push(t) });
  const dir = stateDir ?? (await mkdtemp(join(tmpdir(), 'sitepipe-state-')));
  const outputs = await runPipeline({
    pipeline,
    only,
    reporter,
    context: {
      config,
      configPath: '/x/sitepipe.yaml',
      siteDir: '/x',
      stateDir: dir,
      cacheDir: '/x/cache',
      dryRun,
      allowDirty: false,
      signal: new AbortController().signal,
      env: {},
    },
  });
  return { outputs, text: lines.join(''), stateDir: dir };
}

describe('runPipeline', () => {
  it('threads outputs and writes a versioned record per step', async () => {
    const ran: string[] = [];
    const { outputs, stateDir } = await run(steps(ran), []);
    expect(ran).toEqual(['source', 'tag', 'push']);
    expect(outputs.push?.digest).toMatch(/^sha256:b{64}$/);
    const record = JSON.parse(await readFile(join(stateDir, 'records', 'tag.json'), 'utf8'));
    expect(record).toMatchObject({ version: 2, step: 'tag', output: { commitTag: 'aaaaaaaaaaaa' } });
  });

  it('runs one step from the records of earlier ones (a separate process, as in Cloud Build)', async () => {
    const first = await run(steps([]), ['source', 'tag']);
    const ran: string[] = [];
    const { outputs } = await run(steps(ran), ['push'], false, first.stateDir);
    expect(ran).toEqual(['push']);
    expect(outputs.push?.tags).toEqual(['aaaaaaaaaaaa']);
  });

  it('refuses records of two commits in one step, naming both', async () => {
    const first = await run(steps([]), ['source', 'tag']);
    const record = join(first.stateDir, 'records', 'source.json');
    const raw = JSON.parse(await readFile(record, 'utf8'));
    raw.output.commit = 'c'.repeat(40);
    await writeFile(record, JSON.stringify(raw));
    const pipeline = steps([]);
    // push reading both the (edited) source record and the tag record of commit a…
    (pipeline[2] as { needs: string[] }).needs = ['source', 'tag'];
    const err = await run(pipeline, ['push'], false, first.stateDir).catch((e: SitepipeError) => e);
    expect(err).toMatchObject({ code: 'RECORD_STALE' });
    expect((err as SitepipeError).message).toBe(
      'push would combine the source record of commit cccccccccccc with the tag record of commit aaaaaaaaaaaa',
    );
  });

  it('a step that fails leaves no record of an earlier run behind', async () => {
    const first = await run(steps([]), []);
    const pipeline = steps([]);
    (pipeline[2] as { run: () => Promise<never> }).run = async () => {
      throw new SitepipeError('X', 'push failed', 'h');
    };
    await expect(run(pipeline, ['push'], false, first.stateDir)).rejects.toMatchObject({ code: 'X' });
    await expect(readFile(join(first.stateDir, 'records', 'push.json'))).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });

  it('says which record is missing', async () => {
    await expect(run(steps([]), ['push'])).rejects.toMatchObject({ code: 'RECORD_MISSING' });
  });

  it('under --dry-run, plans mutating steps instead of running them', async () => {
    const ran: string[] = [];
    const { outputs, text } = await run(steps(ran), [], true);
    expect(ran).toEqual(['source', 'tag']);
    expect(outputs.push).toBeUndefined();
    expect(text).toContain('[push] planned in 0.0s: would push r:aaaaaaaaaaaa');
  });

  it('refuses unknown steps, naming the real ones', async () => {
    await expect(run(steps([]), ['deploy'])).rejects.toMatchObject({
      code: 'UNKNOWN_STEP',
      hint: 'steps are: source, tag, push',
    });
  });

  it('runs preflight for all steps before any step, and reports every problem together', async () => {
    const ran: string[] = [];
    const fail = (code: string) => async () => {
      throw new SitepipeError(code, `${code} failed`, `fix ${code}`);
    };
    const pipeline = steps(ran, {
      pushPreflight: fail('REGISTRY_UNREACHABLE'),
      tagPreflight: fail('DOCKER_UNAVAILABLE'),
    });
    const err = await run(pipeline, []).catch((e: SitepipeError) => e);
    expect(ran).toEqual([]);
    expect(err).toMatchObject({ code: 'PREFLIGHT_FAILED' });
    expect((err as SitepipeError).details.join('\n')).toMatch(
      /REGISTRY_UNREACHABLE[\s\S]*DOCKER_UNAVAILABLE|DOCKER_UNAVAILABLE[\s\S]*REGISTRY_UNREACHABLE/,
    );
  });

  it('keeps a single preflight problem as it is', async () => {
    const pipeline = steps([], {
      pushPreflight: async () => {
        throw new SitepipeError('REGISTRY_AUTH_FAILED', 'refused', 'log in');
      },
    });
    await expect(run(pipeline, [])).rejects.toMatchObject({ code: 'REGISTRY_AUTH_FAILED' });
  });
});

/** A promise with its resolve function, to make steps meet. */
function gate<T = void>() {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

const hugoOut = { path: '/usr/bin/hugo', version: '0.111.3', extended: true, origin: 'path' as const };
const pygmentsOut = {
  enabled: true,
  path: '/usr/bin/pygmentize',
  version: '2.14.0',
  style: 'monokai',
  stylesheet: 'css/syntax.css',
  css: '.highlight {}\n',
};
const renderOut = {
  outputDir: '/x/public',
  files: 1,
  bytes: 1,
  durationMs: 1,
  hugoVersion: '0.111.3',
  commit,
};

/** A read-only step for these tests: its name, what it needs or awaits, and what it does. */
function fake(
  name: 'hugo' | 'pygments' | 'render',
  run: (ctx: RunContext, pending: Record<string, Promise<unknown>>) => Promise<unknown>,
  deps: { needs?: string[]; awaits?: string[] } = {},
): AnyStep {
  return {
    name,
    needs: deps.needs ?? [],
    awaits: deps.awaits ?? [],
    mutates: false,
    description: name,
    run: (ctx, _inputs, pending) => run(ctx, pending as Record<string, Promise<unknown>>),
  } as AnyStep;
}

describe('runPipeline, steps at the same time', () => {
  it('starts steps whose needs are met together, each waiting only for what it needs', async () => {
    const hugoStarted = gate();
    const pygmentsStarted = gate();
    const steps = [
      fake('hugo', async () => {
        hugoStarted.open();
        // Finishes only once pygments has started too: a runner going one step at a time never gets here.
        await pygmentsStarted.promise;
        return hugoOut;
      }),
      fake('pygments', async () => {
        pygmentsStarted.open();
        await hugoStarted.promise;
        return pygmentsOut;
      }),
    ];
    const { outputs } = await run(steps, []);
    expect(outputs.hugo?.version).toBe('0.111.3');
    expect(outputs.pygments?.css).toBe('.highlight {}\n');
  });

  it('hands `awaits` outputs over as promises: the step starts before they exist', async () => {
    const order: string[] = [];
    const renderStarted = gate();
    const steps = [
      fake('pygments', async () => {
        await renderStarted.promise;
        order.push('pygments done');
        return pygmentsOut;
      }),
      fake(
        'render',
        async (_ctx, pending) => {
          order.push('render started');
          renderStarted.open();
          const { css } = (await pending.pygments) as typeof pygmentsOut;
          order.push(`render got ${css.trim()}`);
          return renderOut;
        },
        { awaits: ['pygments'] },
      ),
    ];
    await run(steps, []);
    expect(order).toEqual(['render started', 'pygments done', 'render got .highlight {}']);
  });

  const failingPygments = (order: string[] = []) =>
    fake('pygments', async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      order.push('pygments');
      throw new SitepipeError('PYGMENTS_UNAVAILABLE', 'no pygmentize', 'install it');
    });

  it('on the first failure, stops the steps still running and throws that failure; later steps never start', async () => {
    const ran: string[] = [];
    let stoppedBy: unknown = null;
    const steps = [
      fake('hugo', async (ctx) => {
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
        stoppedBy = ctx.signal.reason;
        throw ctx.signal.reason;
      }),
      failingPygments(),
      fake(
        'render',
        async () => {
          ran.push('render');
          return renderOut;
        },
        { needs: ['hugo', 'pygments'] },
      ),
    ];
    const lines: string[] = [];
    const err = await run(steps, [], false, undefined, lines).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PYGMENTS_UNAVAILABLE' });
    expect(stoppedBy).toBe(err);
    expect(ran).toEqual([]);
    const text = lines.join('');
    expect(text).toContain('[pygments] failed');
    expect(text).toContain('[hugo] skipped');
    expect(text).toContain('stopped: pygments failed');
    expect(text).not.toContain('[render]');
  });

  it('runs afterRun housekeeping once every step has finished, even after a failure; its failure is a warning', async () => {
    const order: string[] = [];
    const steps = [
      fake('hugo', async (ctx) => {
        ctx.afterRun(async () => {
          order.push('clean-up');
        });
        ctx.afterRun(async () => {
          throw new Error('disk full');
        });
        order.push('hugo');
        return hugoOut;
      }),
      failingPygments(order),
    ];
    const lines: string[] = [];
    const err = await run(steps, [], false, undefined, lines).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PYGMENTS_UNAVAILABLE' });
    expect(order).toEqual(['hugo', 'pygments', 'clean-up']);
    expect(lines.join('')).toContain(
      '[run] hugo (after it ended): warning: clean-up after the run failed: disk full',
    );
  });
});
