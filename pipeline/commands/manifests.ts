import { relative } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_CONFIG_FILE, type LoadedConfig, loadConfig } from '../config.js';
import { toSitepipeError } from '../errors.js';
import { Reporter, type Sink } from '../output.js';

/** Where the command writes and how it reports failure; the process by default, buffers in tests. */
export interface CommandIO {
  stdout: Sink;
  stderr: Sink;
  setExitCode(code: number): void;
}

const processIO: CommandIO = {
  stdout: process.stdout,
  stderr: process.stderr,
  setExitCode: (code) => {
    process.exitCode = code;
  },
};

interface ManifestsFlags {
  config: string;
  out?: string;
  image?: string;
  json?: boolean;
}

/**
 * `sitepipe manifests [--config FILE] [--out DIR] [--image REF]`: the Kubernetes objects for the
 * config's deploy section, validated, as YAML on stdout or one file per object in DIR.
 */
export function registerManifests(
  program: Command,
  load: (file: string) => Promise<LoadedConfig> = loadConfig,
  io: CommandIO = processIO,
): Command {
  return program
    .command('manifests')
    .description('print the Kubernetes manifests for the deploy section, or write them to a directory')
    .option('-c, --config <file>', 'the sitepipe config', DEFAULT_CONFIG_FILE)
    .option('-o, --out <dir>', 'write one file per object, plus gcloud.sh and README.md, into this directory')
    .option(
      '--image <ref>',
      'the image the Deployment runs, best repository@sha256:digest (default: the <repository>:<tag> placeholder)',
    )
    .option('--json', 'print warnings and errors as NDJSON events')
    .action(async (flags: ManifestsFlags) => {
      const reporter = new Reporter(flags.json ? 'json' : 'plain', io.stdout, io.stderr);
      try {
        const { config } = await load(flags.config);
        // Loaded here, not at the top: the schema models take a few hundred ms to import,
        // which every other sitepipe command would pay.
        const {
          buildManifests,
          gcloudComment,
          manifestsToYaml,
          manifestWarnings,
          supportFiles,
          validateManifests,
          writeManifests,
        } = await import('../kube/manifests.js');
        const opts = flags.image === undefined ? {} : { image: flags.image };
        const objects = buildManifests(config, opts);
        validateManifests(objects);
        for (const warning of manifestWarnings(config, opts)) reporter.warn('manifests', warning);
        if (flags.out) {
          const written = await writeManifests(flags.out, objects, supportFiles(config));
          for (const path of written) io.stdout.write(`wrote ${relative(process.cwd(), path) || path}\n`);
        } else {
          io.stdout.write(manifestsToYaml(objects, { comment: gcloudComment(config) }));
        }
      } catch (e) {
        reporter.error(toSitepipeError(e));
        io.setExitCode(1);
      } finally {
        reporter.close();
      }
    });
}
