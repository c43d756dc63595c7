import type { SitepipeError } from './errors.js';
import type { Outputs } from './records.js';
import type { StepLog } from './step.js';

export type OutputMode = 'tty' | 'plain' | 'json';

export type StepStatus = 'ok' | 'failed' | 'skipped' | 'planned';

/** Bumped whenever a `--json` event changes incompatibly; every event carries it as `schema`. */
export const EVENT_SCHEMA = 2;

/** Cloud Logging's severities: it reads `severity` and `message` off each JSON line of a build's stdout. */
export type Severity = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';

const REDACTED = '***';
const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const STATUS_MARK: Record<StepStatus, string> = { ok: '✓', failed: '✗', skipped: '-', planned: '○' };

/** A writable sink; process.stdout/stderr in the CLI, a buffer in tests. */
export interface Sink {
  write(text: string): unknown;
  /** A terminal's width; the live line is cut to it. */
  columns?: number;
}

export interface ReporterOptions {
  /** -q: every log line goes to `err`, and `out` gets only the result's value (e.g. repo@sha256:…). */
  quiet?: boolean;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** Byte counts as people read them: 512 B, 12.3 MB. */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = n / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** A transfer's progress line: what is being sent, how much so far, and the rate. */
export function transferProgress(what: string, bytes: number, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? ` at ${formatBytes(Math.round((bytes * 1000) / elapsedMs))}/s` : '';
  return `${what}: ${formatBytes(bytes)} sent${rate}`;
}

/** `text` cut to `width` columns (one per code point, which the live line's text is), with an ellipsis. */
export function fitWidth(text: string, width: number): string {
  const chars = [...text];
  return chars.length <= width ? text : `${chars.slice(0, Math.max(0, width - 1)).join('')}…`;
}

/** The end of a run: what it made and where it went, as lines and as the result event's fields. */
export function runSummary(
  outputs: Partial<Outputs>,
  ms: number,
): { fields: Record<string, unknown>; text: string; value: string } | null {
  const pushed = outputs.push;
  if (!pushed) return null;
  const image = `${pushed.repository}@${pushed.digest}`;
  const deployed = deployedTo(outputs.deploy);
  const lines = [
    `pushed ${pushed.tags.map((t) => `${pushed.repository}:${t}`).join(', ')}`,
    `digest: ${pushed.digest}`,
    `image: ${image}`,
    `tags: ${pushed.tags.join(', ') || '(none)'}`,
    ...(deployed ? [`deployed: ${deployed}`] : []),
    `done in ${seconds(ms)}`,
  ];
  return {
    fields: { ...pushed, image, ms, ...(deployed ? { deployed } : {}) },
    text: lines.join('\n'),
    value: image,
  };
}

function deployedTo(deploy: Outputs['deploy'] | undefined): string | null {
  if (!deploy?.deployed) return null;
  if (deploy.target === 'host') {
    const servers = deploy.servers.map((s) => `${s.server} (${s.serving ?? 'nothing'})`).join(', ');
    return `release ${deploy.release ?? '?'} on ${servers}`;
  }
  return `Kubernetes, ${deploy.image ?? '?'}${deploy.release ? ` (release ${deploy.release})` : ''}`;
}

/**
 * Prints the run: a live step list on a terminal, plain lines in CI, NDJSON with --json.
 * Every value goes through redaction of the secrets registered so far, before it is serialised
 * (a JSON-escaped secret would not match the secret).
 */
export class Reporter {
  private readonly secrets = new Set<string>();
  /** Steps running now (several at once when they do not need each other), for the live line. */
  private readonly running = new Map<string, { started: number; progress: string }>();
  /** Steps whose step-end is out: their later lines are the run's, not theirs. */
  private readonly ended = new Set<string>();
  private failedStep: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private frame = 0;
  /** Where logs and events go; stdout, or stderr under -q. */
  private readonly log: Sink;
  private readonly quiet: boolean;

  constructor(
    private readonly mode: OutputMode,
    private readonly out: Sink,
    private readonly err: Sink = out,
    options: ReporterOptions = {},
  ) {
    this.quiet = options.quiet ?? false;
    this.log = this.quiet ? err : out;
  }

  secret(value: string): void {
    // Very short values would redact ordinary text; credentials are never that short.
    if (value.length >= 4) this.secrets.add(value);
  }

  redact(text: string): string {
    let result = text;
    for (const s of this.secrets) result = result.split(s).join(REDACTED);
    return result;
  }

  stepStarted(name: string, description: string): void {
    this.ended.delete(name);
    if (this.mode === 'json') {
      this.event('INFO', { event: 'step-start', step: name, message: description, description });
      return;
    }
    if (this.mode === 'plain') {
      this.line(this.log, `[${name}] ${description}`);
      return;
    }
    this.running.set(name, { started: Date.now(), progress: '' });
    if (!this.timer) {
      this.timer = setInterval(() => this.redrawLive(), 100);
      this.timer.unref();
    }
    this.redrawLive();
  }

  stepFinished(name: string, status: StepStatus, ms: number, summary = ''): void {
    this.ended.add(name);
    if (status === 'failed') this.failedStep = name;
    const text = `${status} in ${seconds(ms)}${summary ? `: ${summary}` : ''}`;
    if (this.mode === 'json') {
      const severity = status === 'failed' ? 'ERROR' : 'INFO';
      this.event(severity, { event: 'step-end', step: name, message: text, status, ms, summary });
      return;
    }
    if (this.mode === 'plain') {
      this.line(this.log, `[${name}] ${text}`);
      return;
    }
    this.running.delete(name);
    this.above(() =>
      this.line(this.log, `${STATUS_MARK[status]} ${name.padEnd(9)} ${seconds(ms).padStart(6)}  ${summary}`),
    );
    if (this.running.size === 0) this.clearLive();
  }

  info(step: string, message: string): void {
    this.logLine('INFO', step, message);
  }

  warn(step: string, message: string): void {
    this.logLine('WARNING', step, message);
  }

  /** What a running step is doing right now (bytes sent, pages fetched): the live line only. */
  progress(step: string, text: string): void {
    const entry = this.running.get(step);
    if (entry) entry.progress = text;
  }

  /**
   * The run's final result, e.g. the pushed digest. `value` is what -q prints on stdout, for
   * `IMAGE=$(sitepipe run -q)`; the rest goes with the logs (on stderr then).
   */
  result(fields: Record<string, unknown>, text: string, value?: string): void {
    if (this.quiet && value !== undefined) this.line(this.out, value);
    if (this.mode === 'json') {
      this.event('INFO', { event: 'result', message: text, ...fields });
      return;
    }
    this.line(this.log, text);
  }

  error(e: SitepipeError): void {
    this.running.clear();
    this.clearLive();
    if (this.mode === 'json') {
      this.event('ERROR', {
        event: 'error',
        ...(this.failedStep ? { step: this.failedStep } : {}),
        code: e.code,
        message: e.message,
        hint: e.hint,
        details: e.details,
      });
      return;
    }
    const lines = [`error[${e.code}]: ${e.message}`, ...e.details.map((d) => `  ${d}`), `  hint: ${e.hint}`];
    this.line(this.err, lines.join('\n'));
  }

  logFor(step: string): StepLog {
    return {
      info: (m) => this.info(step, m),
      warn: (m) => this.warn(step, m),
      progress: (t) => this.progress(step, t),
      secret: (v) => this.secret(v),
    };
  }

  close(): void {
    this.running.clear();
    this.clearLive();
  }

  /**
   * A log line of `step`. Once the step has ended (housekeeping after the run, a late callback)
   * the line is the run's: no event of a step may follow its step-end.
   */
  private logLine(severity: 'INFO' | 'WARNING', step: string, message: string): void {
    const late = this.ended.has(step);
    if (this.mode === 'json') {
      const where = late ? { after: step } : { step };
      const level = severity === 'INFO' ? 'info' : 'warn';
      this.event(severity, { event: 'log', ...where, level, message });
      return;
    }
    const text = `${late ? `${step} (after it ended): ` : ''}${severity === 'WARNING' ? 'warning: ' : ''}${message}`;
    const prefix = late
      ? this.mode === 'tty'
        ? '  '
        : '[run] '
      : this.mode === 'tty'
        ? `  ${step}: `
        : `[${step}] `;
    const sink = severity === 'WARNING' ? this.err : this.log;
    this.above(() => this.line(sink, `${prefix}${text}`));
  }

  private event(severity: Severity, fields: Record<string, unknown>): void {
    const event = { schema: EVENT_SCHEMA, time: new Date().toISOString(), severity, ...fields };
    this.log.write(`${JSON.stringify(this.redactValue(event))}\n`);
  }

  /** Redacts every string in a value, before it is serialised. */
  private redactValue(value: unknown): unknown {
    if (typeof value === 'string') return this.redact(value);
    if (Array.isArray(value)) return value.map((v) => this.redactValue(v));
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.redactValue(v)]));
    }
    return value;
  }

  private line(sink: Sink, text: string): void {
    sink.write(`${this.redact(text)}\n`);
  }

  /** Prints a log line above the live step line, then redraws it. */
  private above(print: () => void): void {
    if (this.mode !== 'tty' || !this.timer) {
      print();
      return;
    }
    this.log.write('\r\x1b[2K');
    print();
    this.redrawLive();
  }

  private redrawLive(): void {
    if (this.running.size === 0) return;
    const frame = SPINNER[this.frame++ % SPINNER.length];
    const steps = [...this.running].map(
      ([name, { started, progress }]) =>
        `${name} ${seconds(Date.now() - started)}${progress ? ` ${progress}` : ''}`,
    );
    // A line wider than the terminal wraps, and `\r` would then redraw only its last row.
    const width = (this.log.columns || 80) - 1;
    this.log.write(`\r\x1b[2K${fitWidth(this.redact(`${frame} ${steps.join(' · ')}`), width)}`);
  }

  /** Stops the live line once no step runs. */
  private clearLive(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
    this.log.write('\r\x1b[2K');
  }
}
