import { z } from 'zod';
import { parseAddress } from './addresses.js';

/** How long the verify step waits for the edge to converge by default: load balancers take minutes. */
export const DEFAULT_WAIT_SECONDS = 900;

/** A host name as DNS has it; one label (localhost) is allowed, unlike deploy.hosts. */
const hostName = z
  .string()
  .regex(
    /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    'must be a lowercase DNS name, e.g. www.example.com',
  );

const address = z
  .string()
  .refine(
    (a) => parseAddress(a) !== null,
    'must be an IP address, optionally with the HTTPS port: 203.0.113.7, 2001:db8::7, 127.0.0.1:8443, [::1]:8443',
  );

const port = z.number().int().min(1).max(65535);

/** Five cron fields; Kubernetes checks the rest. */
const schedule = z
  .string()
  .regex(/^(\S+\s+){4}\S+$/, 'must be a cron schedule of five fields, e.g. "17 * * * *"');

const cronJobSchema = z
  .object({
    /** `sitepipe manifests` (and deploy) add a CronJob that runs `sitepipe verify` in the cluster. */
    enabled: z.boolean().default(false),
    /** Hourly by default, off the full hour most jobs pick. */
    schedule: schedule.default('17 * * * *'),
    /** An image with sitepipe in it: the builder image of Dockerfile.builder. */
    image: z.string().min(1).optional(),
    /** How long each run waits for a failing check to clear (a rollout in progress, say). */
    waitSeconds: z.number().int().min(0).default(300),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.enabled && !c.image) {
      ctx.addIssue({
        code: 'custom',
        path: ['image'],
        message:
          'is required when the CronJob is enabled: the sitepipe builder image, e.g. gcr.io/PROJECT/sitepipe:0.1.0',
      });
    }
  });

/** The `verify:` section: what visitors get from every frontend, checked after each deploy. */
export const verifyConfigSchema = z
  .object({
    /** false: the verify step is skipped (`sitepipe verify` and the CronJob still work). */
    enabled: z.boolean().default(true),
    /** Hosts to check; default: deploy.hosts. */
    hosts: z
      .array(hostName)
      .min(1)
      .refine((h) => new Set(h).size === h.length, 'must not repeat a host')
      .optional(),
    /** Check these addresses for every host instead of the ones DNS or the frontends give. */
    addresses: z.array(address).min(1).optional(),
    /** dns: each host's A and AAAA records; frontends: the Ingress or Gateway status (deploy: section). */
    addressSource: z.enum(['dns', 'frontends']).default('dns'),
    httpsPort: port.default(443),
    httpPort: port.default(80),
    /** The page fetched over HTTPS for the release header and HSTS. */
    path: z
      .string()
      .regex(/^\/\S*$/, 'must be a URL path starting with /')
      .default('/'),
    /** PEM file of the CAs to trust instead of Node's roots (relative to the config file). */
    caFile: z.string().min(1).optional(),
    /** A certificate with fewer days left fails. */
    minDays: z.number().int().min(0).default(14),
    /** The verify step polls this long for every check to pass. */
    waitSeconds: z.number().int().min(0).default(DEFAULT_WAIT_SECONDS),
    /** Each connection (DNS, TLS, HTTP) gives up after this long. */
    timeoutSeconds: z.number().int().min(1).default(10),
    /** Plain HTTP must redirect to HTTPS; default: deploy.frontends.httpsRedirect, else true. */
    httpRedirect: z.boolean().optional(),
    cronJob: cronJobSchema.prefault({}),
  })
  .strict();

export type VerifyConfig = z.infer<typeof verifyConfigSchema>;
