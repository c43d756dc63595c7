import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SitepipeError } from './errors.js';
import { writeJsonFile } from './json-file.js';
import { type Outputs, RECORD_VERSION, records, type StepName } from './records.js';

export function recordPath(stateDir: string, step: StepName): string {
  return join(stateDir, 'records', `${step}.json`);
}

/** Writes `{ version, step, output }` atomically, so a killed run never leaves half a record. */
export async function writeRecord<N extends StepName>(
  stateDir: string,
  step: N,
  output: Outputs[N],
): Promise<void> {
  await writeJsonFile(recordPath(stateDir, step), { version: RECORD_VERSION, step, output }, true);
}

export async function removeRecord(stateDir: string, step: StepName): Promise<void> {
  await rm(recordPath(stateDir, step), { force: true });
}

export async function readRecord<N extends StepName>(stateDir: string, step: N): Promise<Outputs[N]> {
  const path = recordPath(stateDir, step);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new SitepipeError(
      missing ? 'RECORD_MISSING' : 'RECORD_INVALID',
      missing ? `no record of step "${step}" in ${stateDir}` : `${path} is not valid JSON`,
      `run \`sitepipe run ${step}\` first (or the whole pipeline), with the same --state-dir`,
    );
  }
  const version = (raw as { version?: unknown }).version;
  if (version !== RECORD_VERSION) {
    throw new SitepipeError(
      'RECORD_VERSION',
      `${path} has record version ${String(version)}; this sitepipe reads version ${RECORD_VERSION}`,
      `re-run \`sitepipe run ${step}\` with this version of sitepipe`,
    );
  }
  const parsed = records[step].safeParse((raw as { output?: unknown }).output);
  if (!parsed.success) {
    throw new SitepipeError(
      'RECORD_INVALID',
      `${path} does not match the ${step} record`,
      `re-run \`sitepipe run ${step}\``,
      parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
    );
  }
  return parsed.data as Outputs[N];
}
