import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cloudbuildConfigSchema } from '../../pipeline/cloudbuild/config.js';
import { builderReference, productionTree, writeBuilderContext } from '../../pipeline/commands/builder.js';

const cb = (raw: unknown) => cloudbuildConfigSchema.parse(raw);
const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('builderReference', () => {
  it('is Artifact Registry’s LOCATION-docker.pkg.dev/PROJECT/sitepipe/sitepipe:VERSION', () => {
    expect(builderReference(cb({ projectId: 'my-project', location: 'europe-west1' }), '0.1.0')).toBe(
      'europe-west1-docker.pkg.dev/my-project/sitepipe/sitepipe:0.1.0',
    );
  });

  it('is cloudbuild.builder when the config names one, with $PROJECT_ID filled in', () => {
    const builder = 'us-docker.pkg.dev/$PROJECT_ID/tools/sitepipe:1';
    expect(builderReference(cb({ projectId: 'my-project', builder }), '0.1.0')).toBe(
      'us-docker.pkg.dev/my-project/tools/sitepipe:1',
    );
  });

  it('says what is missing when it cannot be derived', () => {
    expect(() => builderReference(cb({ projectId: 'my-project' }), '0.1.0')).toThrow(
      expect.objectContaining({
        code: 'BUILDER_REF_UNKNOWN',
        message: expect.stringContaining('needs cloudbuild.location'),
        hint: expect.stringContaining('sitepipe builder build REF'),
      }),
    );
    expect(() => builderReference(cb({}), '0.1.0')).toThrow(
      /needs cloudbuild.projectId and cloudbuild.location/,
    );
    expect(() =>
      builderReference(cb({ builder: 'gcr.io/$PROJECT_ID/s:$_TAG', projectId: 'my-project' }), '1'),
    ).toThrow(expect.objectContaining({ code: 'BUILDER_REF_UNKNOWN' }));
  });
});

/** Writes package.json files: path -> { name, dependencies }. */
async function tree(
  packages: Record<
    string,
    {
      name: string;
      version?: string;
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    }
  >,
) {
  const root = await mkdtemp(join(tmpdir(), 'sitepipe-builder-tree-'));
  dirs.push(root);
  for (const [at, pkg] of Object.entries(packages)) {
    await mkdir(join(root, at), { recursive: true });
    await writeFile(join(root, at, 'package.json'), JSON.stringify({ version: '1.0.0', ...pkg }));
  }
  return root;
}

describe('productionTree', () => {
  it('lays out what Node finds from an installed sitepipe: hoisted, nested, and two versions of one package', async () => {
    // As npm installs sitepipe into a project: its dependencies hoisted beside it, one nested
    // in it (the project has another a), devDependencies and the project's own packages left out.
    const project = await tree({
      '.': { name: 'site', dependencies: { sitepipe: '*', a: '2' } },
      'node_modules/sitepipe': {
        name: 'sitepipe',
        dependencies: { a: '1', b: '1' },
        optionalDependencies: { gone: '1' },
      },
      'node_modules/sitepipe/node_modules/a': { name: 'a', version: '1.0.0', dependencies: { c: '1' } },
      'node_modules/a': { name: 'a', version: '2.0.0' },
      'node_modules/b': { name: 'b', dependencies: { a: '2', c: '1' } },
      'node_modules/c': { name: 'c', dependencies: { b: '1' } },
      'node_modules/unrelated': { name: 'unrelated' },
    });
    const placed = await productionTree(join(project, 'node_modules/sitepipe'));
    expect(
      Object.fromEntries([...placed].map(([at, source]) => [at, source.slice(project.length + 1)])),
    ).toEqual({
      'node_modules/a': 'node_modules/sitepipe/node_modules/a',
      'node_modules/b': 'node_modules/b',
      'node_modules/c': 'node_modules/c',
      // b wants the project's a 2, which the top-level a 1 would hide from it.
      'node_modules/b/node_modules/a': 'node_modules/a',
    });
  });

  it('names a dependency that is not installed', async () => {
    const root = await tree({ '.': { name: 'sitepipe', dependencies: { missing: '1' } } });
    await expect(productionTree(root)).rejects.toMatchObject({
      code: 'BUILDER_DEPENDENCY_MISSING',
      message: expect.stringContaining('missing'),
    });
  });
});

describe('writeBuilderContext', () => {
  it('refuses a package with no dist/, and holds only what the image needs', async () => {
    const root = await tree({ '.': { name: 'sitepipe' } });
    const out = await mkdtemp(join(tmpdir(), 'sitepipe-builder-ctx-'));
    dirs.push(out);
    await expect(writeBuilderContext(out, root, 'install')).rejects.toMatchObject({
      code: 'BUILDER_NOT_BUILT',
    });
    await mkdir(join(root, 'dist/pipeline'), { recursive: true });
    for (const f of ['dist/pipeline/cli.js', 'Dockerfile.builder', 'Dockerfile.template', 'README.md']) {
      await writeFile(join(root, f), '');
    }
    await writeBuilderContext(out, root, 'install');
    expect((await readdir(out)).sort()).toEqual([
      'Dockerfile',
      'Dockerfile.template',
      'dist',
      'package.json',
    ]);
  });
});
