import type { SitepipeError } from './errors.js';
import type { StepLog } from './step.js';

export type OutputMode = 'tty' | 'plain' | 'json';

export type StepStatus = 'ok' | 'failed' | 'skipped' | 'planned';

const REDACTED = '***';
const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const STATUS_MARK: Record<StepStatus, string> = { ok: '✓', failed: '✗', skipped: '-', planned: '○' };

/** A writable sink; process.stdout/stderr in the CLI, a buffer in tests. */
export interface Sink {
  write(text: string): unknown;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/**
 * Prints the run: a live step list on a terminal, plain lines in CI, NDJSON with --json.
 * Every line goes through redaction of the secrets registered so far.
 */
export class Reporter {
  private readonly secrets = new Set<string>();
  /** Steps running now (several at once when they do not need each other), for the live line. */
  private readonly running = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private frame = 0;

  constructor(
    private readonly mode: OutputMode,
    private readonly out: Sink,
    private readonly err: Sink = out,
  ) {}

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
    if (this.mode === 'json') {
      this.event({ event: 'step-start', step: name, description });
      return;
    }
    if (this.mode === 'plain') {
      this.line(this.out, `[${name}] ${description}`);
      return;
    }
    this.running.set(name, Date.now());
    if (!this.timer) {
      this.timer = setInterval(() => this.redrawLive(), 100);
      this.timer.unref();
    }
    this.redrawLive();
  }

  stepFinished(name: string, status: StepStatus, ms: number, summary = ''): void {
    if (this.mode === 'json') {
      this.event({ event: 'step-end', step: name, status, ms, summary });
      return;
    }
    if (this.mode === 'plain') {
      this.line(this.out, `[${name}] ${status} in ${seconds(ms)}${summary ? `: ${summary}` : ''}`);
      return;
    }
    this.running.delete(name);
    this.above(() =>
      this.line(this.out, `${STATUS_MARK[status]} ${name.padEnd(9)} ${seconds(ms).padStart(6)}  ${summary}`),
    );
    if (this.running.size === 0) this.clearLive();
  }

  info(step: string, message: string): void {
    if (this.mode === 'json') {
      this.event({ event: 'log', step, level: 'info', message });
      return;
    }
    this.above(() =>
      this.line(this.out, this.mode === 'tty' ? `  ${step}: ${message}` : `[${step}] ${message}`),
    );
  }

  warn(step: string, message: string): void {
    if (this.mode === 'json') {
      this.event({ event: 'log', step, level: 'warn', message });
      return;
    }
    this.above(() =>
      this.line(this.err, `${this.mode === 'tty' ? `  ${step}: ` : `[${step}] `}warning: ${message}`),
    );
  }

  /** The run's final result, e.g. the pushed digest. */
  result(fields: Record<string, unknown>, text: string): void {
    if (this.mode === 'json') {
      this.event({ event: 'result', ...fields });
      return;
    }
    this.line(this.out, text);
  }

  error(e: SitepipeError): void {
    this.running.clear();
    this.clearLive();
    if (this.mode === 'json') {
      this.event({
        event: 'error',
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
      secret: (v) => this.secret(v),
    };
  }

  close(): void {
    this.running.clear();
    this.clearLive();
  }

  private event(fields: Record<string, unknown>): void {
    this.out.write(`${this.redact(JSON.stringify({ time: new Date().toISOString(), ...fields }))}\n`);
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
    this.out.write('\r\x1b[2K');
    print();
    this.redrawLive();
  }

  private redrawLive(): void {
    if (this.running.size === 0) return;
    const frame = SPINNER[this.frame++ % SPINNER.length];
    const steps = [...this.running].map(([name, started]) => `${name} ${seconds(Date.now() - started)}`);
    this.out.write(`\r\x1b[2K${frame} ${steps.join(' · ')}`);
  }

  /** Stops the live line once no step runs. */
  private clearLive(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
    this.out.write('\r\x1b[2K');
  }
}
