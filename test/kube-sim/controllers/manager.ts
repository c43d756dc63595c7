/**
 * Runs the controllers: one pass after every change in the store (coalesced) and one
 * every tick, so that clocks (progress deadlines, minReadySeconds) move without changes.
 */
import type { Controls } from './context.js';

export interface Reconciler {
  reconcile(): void;
}

const TICK_MS = 100;
const COALESCE_MS = 5;

export class ControllerManager {
  private timer: NodeJS.Timeout | undefined;
  private pending: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = false;
  /** Passes whose work threw: the message, for a test to look at. */
  readonly errors: string[] = [];

  constructor(
    private readonly controllers: Reconciler[],
    private readonly controls: Controls,
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.pass(), TICK_MS);
    this.timer.unref();
    this.trigger();
  }

  /** Asks for a pass soon (coalescing bursts of changes). */
  trigger(): void {
    if (this.stopped || this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.pass();
    }, COALESCE_MS);
    this.pending.unref();
  }

  /** One pass of every controller, now (unless paused). */
  pass(): void {
    if (this.stopped || this.running || this.controls.paused) return;
    this.running = true;
    try {
      for (const c of this.controllers) {
        try {
          c.reconcile();
        } catch (e) {
          const message = `${c.constructor.name}: ${(e as Error).stack ?? String(e)}`;
          this.errors.push(message);
          if (this.errors.length > 100) this.errors.shift();
          this.log(message);
        }
      }
    } finally {
      this.running = false;
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending);
  }
}
