import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** What a delivery came to: the accepted outcomes, and every way of being turned away. */
export type DeliveryMetricOutcome =
  | 'queued'
  | 'ignored'
  | 'deleted'
  | 'ping'
  | 'other'
  | 'duplicate'
  | 'unauthorized'
  | 'too_large'
  | 'timeout'
  | 'malformed';

/** /metrics, in a registry of its own (nothing global, so tests can run several servers). */
export class ServeMetrics {
  readonly registry = new Registry();
  readonly deliveries = new Counter({
    name: 'sitepipe_serve_deliveries_total',
    help: 'Webhook deliveries by provider and outcome',
    labelNames: ['provider', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly runs = new Counter({
    name: 'sitepipe_serve_runs_total',
    help: 'Finished runs by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly runDuration = new Histogram({
    name: 'sitepipe_serve_run_duration_seconds',
    help: 'Run durations, checkout to the last step, by outcome',
    labelNames: ['outcome'] as const,
    buckets: [5, 10, 20, 30, 60, 120, 300, 600, 1200],
    registers: [this.registry],
  });

  constructor(queueDepth: () => number) {
    // process_resident_memory_bytes, nodejs_heap_size_used_bytes and the like, under the same prefix-less names.
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'sitepipe_serve_queue_depth',
      help: 'Runs waiting to start',
      registers: [this.registry],
      collect() {
        this.set(queueDepth());
      },
    });
  }
}
