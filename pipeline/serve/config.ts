import { z } from 'zod';

/** The `serve:` section: `sitepipe serve`, the push-to-deploy webhook receiver. */
export const serveConfigSchema = z
  .object({
    /** host:port to listen on; anything but loopback needs `token` set (or `public: true`) for the pages. */
    listen: z
      .string()
      .regex(
        /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/,
        'must be host:port, e.g. 127.0.0.1:8088 or [::]:8088',
      )
      .default('127.0.0.1:8088'),
    /** The git remote to fetch pushed commits from: https, ssh or a path. */
    remote: z.string().min(1),
    /** Branches to build, as globs (`*` within a name segment, `**` across `/`). */
    branches: z.array(z.string().min(1)).min(1).default(['**']),
    /** Webhook endpoints: POST /hooks/github, /hooks/gitlab, /hooks/hmac. */
    providers: z
      .array(z.enum(['github', 'gitlab', 'hmac']))
      .min(1)
      .default(['github']),
    /** The webhook secret is read from this env var, else from `secretFile`; never from this file. */
    secretEnv: z.string().min(1).default('SITEPIPE_WEBHOOK_SECRET'),
    secretFile: z.string().min(1).optional(),
    /** The token the status pages and /metrics ask for (Bearer, or basic auth's password). */
    tokenEnv: z.string().min(1).default('SITEPIPE_SERVE_TOKEN'),
    tokenFile: z.string().min(1).optional(),
    /** Serve the status pages without a token even when bound beyond loopback. */
    public: z.boolean().default(false),
    /** The database, the git mirror, worktrees, state dirs and run logs (relative to this file). */
    dataDir: z.string().min(1).default('.sitepipe-serve'),
    /** The sitepipe config inside the pushed repository. */
    config: z.string().min(1).default('sitepipe.yaml'),
    /** Runs at once (of different branches; a branch runs one at a time). */
    concurrency: z.number().int().min(1).max(16).default(1),
    maxBodyBytes: z
      .number()
      .int()
      .min(1024)
      .default(5 * 1024 * 1024),
    /** A client that has not sent its headers, or is silent mid-body, this long is cut off. */
    headersTimeoutSeconds: z.number().min(0.1).default(10),
    bodyTimeoutSeconds: z.number().min(0.1).default(10),
    /** On SIGTERM, how long a run in progress may take to finish before it is interrupted. */
    graceSeconds: z.number().min(0).default(300),
    /** The server's own address as GitHub users reach it, for status links (default http://<listen>). */
    publicUrl: z.url().optional(),
    /** Commit statuses back to GitHub (pending, success, failure). */
    github: z
      .object({
        statuses: z.boolean().default(false),
        apiUrl: z.url().default('https://api.github.com'),
        tokenEnv: z.string().min(1).default('GITHUB_TOKEN'),
        context: z.string().min(1).default('sitepipe'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type ServeConfig = z.infer<typeof serveConfigSchema>;
