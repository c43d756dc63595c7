// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Cloud Build templates, not JS templates
import { describe, expect, it } from 'vitest';
import type { BuildConfig } from '../../pipeline/cloudbuild/build-config.js';
import { checkSubstitutionKeys, substituteBuild, tokenize } from '../../pipeline/cloudbuild/substitute.js';

const builtIns = {
  PROJECT_ID: 'my-project',
  BUILD_ID: 'b-123',
  COMMIT_SHA: '0123456789abcdef0123456789abcdef01234567',
  SHORT_SHA: '0123456',
  BRANCH_NAME: 'feature/x',
};

function build(args: string[], more: Partial<BuildConfig> = {}): BuildConfig {
  return { steps: [{ name: 'gcr.io/$PROJECT_ID/tool', args }], ...more };
}

function args(b: BuildConfig, overrides?: Record<string, string>): string[] {
  return substituteBuild(b, { builtIns, overrides }).build.steps[0]?.args ?? [];
}

describe('Cloud Build substitutions', () => {
  it('replaces $KEY and ${KEY} for built-ins and user substitutions, in names and args', () => {
    const b = build(['$PROJECT_ID', '${BRANCH_NAME}', 'tag:$SHORT_SHA', '$_ENV-${_ENV}x'], {
      substitutions: { _ENV: 'prod' },
    });
    const out = substituteBuild(b, { builtIns }).build;
    expect(out.steps[0]?.name).toBe('gcr.io/my-project/tool');
    expect(out.steps[0]?.args).toEqual(['my-project', 'feature/x', 'tag:0123456', 'prod-prodx']);
  });

  it('takes the longest name after an unbraced $ (braces end it early)', () => {
    const b = build(['$_ENV_SUFFIX', '${_ENV}_SUFFIX'], { substitutions: { _ENV: 'a', _ENV_SUFFIX: 'b' } });
    expect(args(b)).toEqual(['b', 'a_SUFFIX']);
  });

  it('$$ is a literal $, and a $ before anything but a substitution name stays', () => {
    expect(args(build(['$$HOME', 'cost: 5$', '$$$PROJECT_ID', '$1 $foo ${lower}']))).toEqual([
      '$HOME',
      'cost: 5$',
      '$my-project',
      '$1 $foo ${lower}',
    ]);
  });

  it('a built-in with no value for this build is empty', () => {
    expect(args(build(['[$TAG_NAME]', '[$REPO_NAME]']))).toEqual(['[]', '[]']);
  });

  it('the request overrides the file’s values, and may override the overridable built-ins', () => {
    const b = build(['$_ENV', '$BRANCH_NAME'], { substitutions: { _ENV: 'prod' } });
    expect(args(b, { _ENV: 'staging', BRANCH_NAME: 'main' })).toEqual(['staging', 'main']);
  });

  it('rejects keys that are neither user keys (_[A-Z0-9_]+) nor overridable built-ins', () => {
    expect(
      checkSubstitutionKeys({ _OK_1: '', BRANCH_NAME: '', PROJECT_ID: '', FOO: '', _lower: '' }),
    ).toEqual([
      expect.stringContaining('"PROJECT_ID" does not match'),
      expect.stringContaining('"FOO" does not match'),
      expect.stringContaining('"_lower" does not match'),
    ]);
    expect(checkSubstitutionKeys({ _V: 'x'.repeat(4001) })).toEqual([expect.stringContaining('4000 bytes')]);
    expect(() =>
      substituteBuild(build(['$_V']), { builtIns, overrides: { _V: '', PROJECT_ID: 'x' } }),
    ).toThrow(/1 substitution problem/);
  });

  it('an undefined user substitution is an error, empty under ALLOW_LOOSE', () => {
    expect(() => substituteBuild(build(['$_MISSING']), { builtIns })).toThrowError(
      expect.objectContaining({
        code: 'SUBSTITUTION_INVALID',
        details: [expect.stringContaining('steps[0].args[0]: key in the template "_MISSING" is not matched')],
      }),
    );
    const loose = substituteBuild(
      build(['[$_MISSING]'], { options: { substitutionOption: 'ALLOW_LOOSE' } }),
      {
        builtIns,
      },
    );
    expect(loose.build.steps[0]?.args).toEqual(['[]']);
    expect(loose.warnings).toEqual([expect.stringContaining('"_MISSING" is not matched')]);
  });

  it('an unknown built-in ($HOME) is an error even under ALLOW_LOOSE', () => {
    for (const options of [undefined, { substitutionOption: 'ALLOW_LOOSE' as const }]) {
      expect(() => substituteBuild(build(['echo $HOME'], { options }), { builtIns })).toThrowError(
        expect.objectContaining({
          details: [expect.stringContaining('"HOME" is not a valid built-in substitution')],
        }),
      );
    }
  });

  it('an unused user substitution is an error unless ALLOW_LOOSE, or automapSubstitutions uses them all', () => {
    const unused = { substitutions: { _UNUSED: 'x' } };
    expect(() => substituteBuild(build(['a'], unused), { builtIns })).toThrowError(
      expect.objectContaining({
        details: [expect.stringContaining('key "_UNUSED" in the substitution data is not matched')],
      }),
    );
    expect(
      substituteBuild(build(['a'], { ...unused, options: { substitutionOption: 'ALLOW_LOOSE' } }), {
        builtIns,
      }).warnings,
    ).toEqual([expect.stringContaining('_UNUSED')]);
    expect(
      substituteBuild(build(['a'], { ...unused, options: { automapSubstitutions: true } }), { builtIns })
        .warnings,
    ).toEqual([]);
  });

  it('reports every problem at once', () => {
    const b = build(['$_A', '$NOPE', '$_B'], { substitutions: { _C: '1' } });
    expect(() => substituteBuild(b, { builtIns })).toThrowError(
      expect.objectContaining({ message: '4 substitution problems in the build' }),
    );
  });

  it('substitutes env, dir, entrypoint, images, tags and secret names, but not scripts', () => {
    const b: BuildConfig = {
      steps: [
        { name: 'x', env: ['P=$PROJECT_ID'], dir: 'd/$_D', entrypoint: '$_E' },
        { name: 'y', script: 'echo $PROJECT_ID $$' },
      ],
      substitutions: { _D: 'sub', _E: 'bash' },
      images: ['gcr.io/$PROJECT_ID/app:$SHORT_SHA'],
      tags: ['$_D'],
      availableSecrets: {
        secretManager: [{ versionName: 'projects/$PROJECT_ID/secrets/s/versions/1', env: 'S' }],
      },
    };
    const out = substituteBuild(b, { builtIns }).build;
    expect(out.steps[0]).toMatchObject({ env: ['P=my-project'], dir: 'd/sub', entrypoint: 'bash' });
    expect(out.steps[1]?.script).toBe('echo $PROJECT_ID $$');
    expect(out.images).toEqual(['gcr.io/my-project/app:0123456']);
    expect(out.tags).toEqual(['sub']);
    expect(out.availableSecrets?.secretManager?.[0]?.versionName).toBe(
      'projects/my-project/secrets/s/versions/1',
    );
  });

  describe('with dynamicSubstitutions (bash parameter expansion)', () => {
    const dynamic = { options: { dynamicSubstitutions: true } };

    it('lets values refer to built-ins and to each other', () => {
      const b = build(['$_IMAGE'], {
        ...dynamic,
        substitutions: { _IMAGE: 'gcr.io/$PROJECT_ID/$_NAME:${_TAG}', _NAME: 'site', _TAG: '${SHORT_SHA}' },
      });
      // _NAME and _TAG are used only inside another value, which Cloud Build counts as unused.
      expect(() => substituteBuild(b, { builtIns })).toThrowError(
        expect.objectContaining({
          details: [expect.stringContaining('"_NAME"'), expect.stringContaining('"_TAG"')],
        }),
      );
      const loose = build(['$_IMAGE'], {
        options: { dynamicSubstitutions: true, substitutionOption: 'ALLOW_LOOSE' },
        substitutions: { _IMAGE: 'gcr.io/$PROJECT_ID/$_NAME:${_TAG}', _NAME: 'site', _TAG: '${SHORT_SHA}' },
      });
      expect(substituteBuild(loose, { builtIns }).build.steps[0]?.args).toEqual([
        'gcr.io/my-project/site:0123456',
      ]);
    });

    it('supports substrings, defaults, pattern removal and replacement, case changes and length', () => {
      const b = build(
        [
          '${COMMIT_SHA:0:12}',
          '${BRANCH_NAME//\\//-}',
          '${BRANCH_NAME#*/}',
          '${BRANCH_NAME%/*}',
          '${TAG_NAME:-latest}',
          '${_N^^}',
          '${#SHORT_SHA}',
          '${COMMIT_SHA: -4}',
        ],
        { ...dynamic, substitutions: { _N: 'abc' } },
      );
      expect(args(b)).toEqual(['0123456789ab', 'feature-x', 'x', 'feature', 'latest', 'ABC', '7', '4567']);
    });

    it('leaves ${KEY:…} alone when dynamic substitutions are off', () => {
      expect(args(build(['${COMMIT_SHA:0:12}']))).toEqual(['${COMMIT_SHA:0:12}']);
    });

    it('reports a cycle', () => {
      const b = build(['$_A $_B'], { ...dynamic, substitutions: { _A: '$_B', _B: '$_A' } });
      expect(() => substituteBuild(b, { builtIns })).toThrowError(
        expect.objectContaining({ details: expect.arrayContaining([expect.stringContaining('cycle')]) }),
      );
    });
  });

  it('tokenizes templates the way Cloud Build finds parameters', () => {
    expect(tokenize('a$$b${_X}c$Y_1!', false)).toEqual([
      { kind: 'text', text: 'a$b' },
      { kind: 'ref', key: '_X', expr: null },
      { kind: 'text', text: 'c' },
      { kind: 'ref', key: 'Y_1', expr: null },
      { kind: 'text', text: '!' },
    ]);
  });
});
