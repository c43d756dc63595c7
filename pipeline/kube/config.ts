import { z } from 'zod';
import { DEFAULT_PRODUCTION_BRANCHES } from '../branches.js';

const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS label: lowercase letters, digits, -')
  .max(63);

/** Service names must also start with a letter (RFC 1035). */
const resourceName = z
  .string()
  .regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/, 'must start with a letter, then lowercase letters, digits, -')
  .max(63);

const hostname = z
  .string()
  .regex(
    /^(?=.{1,253}$)([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,63}$/,
    'must be a lowercase DNS name, e.g. www.example.com',
  );

/** A Google Cloud resource name (addresses, SSL certificates). */
const gcpName = z
  .string()
  .regex(
    /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/,
    'must be a Google Cloud resource name: a lowercase letter, then letters, digits, - (max 63)',
  );

/** A Kubernetes resource quantity such as 50m, 0.5, 64Mi or 1G. */
const quantity = z
  .string()
  .regex(/^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/, 'must be a Kubernetes quantity like 50m, 0.5, 64Mi');

const absolutePath = z
  .string()
  .regex(/^\/[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, 'must be an absolute path like /var/cache/nginx');

/**
 * Where nginx writes at run time: the temp dirs of the official image (/var/cache/nginx) and of
 * Debian's package (/var/lib/nginx), the pid file (/run; /var/run links there in both), and /tmp.
 * Each becomes an emptyDir, so the root filesystem can stay read-only and nginx can run as non-root.
 */
export const DEFAULT_WRITABLE_PATHS = ['/var/cache/nginx', '/var/lib/nginx', '/run', '/tmp'];

const tlsSchema = z
  .object({
    /** cert-manager (ACME v2 through a ClusterIssuer) or a Google-managed certificate. */
    provider: z.enum(['cert-manager', 'managed-certificate']).default('cert-manager'),
    /** Let's Encrypt environment for cert-manager; both ClusterIssuers are always emitted. */
    acme: z.enum(['staging', 'production']).default('production'),
    email: z.email().optional(),
    /** How cert-manager proves control of the hosts: HTTP-01 through the frontends, or DNS-01 in Cloud DNS. */
    challenge: z.enum(['http01', 'dns01']).default('http01'),
    /**
     * two-ingress mode with HTTP-01 only: the Ingress cert-manager adds the challenge path to.
     * Let's Encrypt validates over IPv6 whenever a host has an AAAA record, so ipv6 is the default.
     */
    http01Frontend: z.enum(['ipv6', 'ipv4']).default('ipv6'),
    /** DNS-01 through Google Cloud DNS; required when challenge is dns01. */
    cloudDNS: z
      .object({
        project: z.string().min(1),
        hostedZoneName: z.string().min(1).optional(),
        /** A key of a service account with DNS admin rights, in cert-manager's namespace; omit with Workload Identity. */
        serviceAccountSecret: z
          .object({ name: dnsLabel, key: z.string().min(1) })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    /** Gateway mode with managed-certificate: the Google-managed SSL certificate the listener uses. */
    sslCertificateName: gcpName.default('website-cert'),
  })
  .strict()
  .superRefine((tls, ctx) => {
    if (tls.provider === 'cert-manager' && tls.challenge === 'dns01' && !tls.cloudDNS) {
      ctx.addIssue({
        code: 'custom',
        path: ['cloudDNS'],
        message: 'is required when challenge is dns01 (e.g. cloudDNS: { project: my-project })',
      });
    }
  });

const rootPath = z
  .string()
  .regex(/^\/[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, 'must be an absolute path like /srv/sitepipe/website');

/** `deploy.host`: the single-host target (docs/host.md). */
export const hostConfigSchema = z
  .object({
    /** The servers, each `user@host[:port]` reached with the system's OpenSSH. */
    servers: z
      .array(
        z
          .object({
            ssh: z
              .string()
              .regex(
                /^([A-Za-z0-9._-]+@)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?$/,
                'must be user@host[:port], e.g. deploy@vm1.example.com:22',
              ),
            /** A private key for this server (else ssh's own choice: agent, ~/.ssh/config). */
            identityFile: z.string().min(1).optional(),
            /** A known_hosts file with this server's key (else ssh's own). Host keys are always verified. */
            knownHostsFile: z.string().min(1).optional(),
            /** This server's root and Caddy, where they differ from deploy.host's. */
            root: rootPath.optional(),
            caddy: z
              .object({
                configFile: z.string().min(1).optional(),
                siteFile: z.string().min(1).optional(),
                adminAddress: z.string().min(1).optional(),
              })
              .strict()
              .optional(),
          })
          .strict(),
      )
      .min(1),
    /** Where the releases live on each server; default /srv/sitepipe/<deploy.name>. */
    root: rootPath.optional(),
    /** Releases kept on each server besides the live one; older ones are removed after a switch. */
    keep: z.number().int().min(1).default(10),
    /**
     * Pages set a cookie naming their release, and the assets they link are served from that
     * release while it is kept, so a switch never mixes releases within a page view.
     */
    stickyAssets: z.boolean().default(true),
    /**
     * After a switch and `host init`, each domain must present a valid certificate on each
     * server (port verify.httpsPort, trusting verify.caFile) within this long; 0 skips the check.
     */
    certificateTimeoutSeconds: z.number().int().min(0).default(120),
    acme: z
      .object({
        /** production or staging (Let's Encrypt), or the directory URL of another ACME CA. */
        ca: z.union([z.enum(['production', 'staging']), z.url()]).default('production'),
        email: z.email().optional(),
        /** A PEM file on the server: the root of a private CA's ACME endpoint to trust. */
        caRoot: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    caddy: z
      .object({
        /** The main Caddyfile on the server; `host init` adds an import of siteFile to it. */
        configFile: z.string().min(1).default('/etc/caddy/Caddyfile'),
        /** Where sitepipe installs this site's config; default /etc/caddy/sitepipe/<deploy.name>.caddy. */
        siteFile: z.string().min(1).optional(),
        /** Caddy's admin endpoint on the server, which `caddy reload` talks to. */
        adminAddress: z.string().min(1).default('localhost:2019'),
        /** Addresses to listen on; default: all (IPv4 and IPv6). */
        bind: z.array(z.string().min(1)).min(1).optional(),
        /** Caddy's HTTPS port (its https_port option): HTTP redirects name it when it is not 443. */
        httpsPort: z.number().int().min(1).max(65535).default(443),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type HostConfig = z.infer<typeof hostConfigSchema>;

/** The `deploy:` section: where and how the site runs, on Kubernetes (default) or on hosts. */
export const deployConfigSchema = z
  .object({
    /** kubernetes: a Deployment in a cluster; host: releases on servers served by Caddy (deploy.host). */
    target: z.enum(['kubernetes', 'host']).default('kubernetes'),
    host: hostConfigSchema.optional(),
    namespace: dnsLabel.default('website'),
    /** Names the Deployment, Service, Certificate and frontends. */
    name: resourceName.default('website'),
    replicas: z.number().int().min(1).default(3),
    /** Host names the site answers on; the certificate covers all of them. */
    hosts: z
      .array(hostname)
      .min(1)
      .refine((hosts) => new Set(hosts).size === hosts.length, 'must not repeat a host'),
    /** kubeconfig context; the current context when omitted. */
    context: z.string().optional(),
    /** How long a rollout may go without progress before it counts as failed. */
    progressDeadlineSeconds: z.number().int().min(10).default(300),
    /** How long a deploy waits for another deploy of the same site (the Lease) before failing. */
    lockTimeoutSeconds: z.number().int().min(0).default(600),
    /** Old ReplicaSets kept for `kubectl rollout undo`; sitepipe itself rolls back by image. */
    revisionHistoryLimit: z.number().int().min(0).default(10),
    resources: z
      .object({
        cpu: quantity.default('50m'),
        memory: quantity.default('64Mi'),
        cpuLimit: quantity.optional(),
        memoryLimit: quantity.default('128Mi'),
      })
      .strict()
      .default({ cpu: '50m', memory: '64Mi', memoryLimit: '128Mi' }),
    /** The pod's security context; see docs/kubernetes.md ("Running as non-root"). */
    security: z
      .object({
        /** Run nginx, master included, as runAsUser; needs writablePaths. false: root master, minimal capabilities. */
        runAsNonRoot: z.boolean().default(true),
        /** 101 is the nginx user and group of the official nginx images. */
        runAsUser: z.number().int().min(1).default(101),
        runAsGroup: z.number().int().min(1).default(101),
        readOnlyRootFilesystem: z.boolean().default(true),
        writablePaths: z
          .array(absolutePath)
          .default(() => [...DEFAULT_WRITABLE_PATHS])
          .refine((paths) => new Set(paths).size === paths.length, 'must not repeat a path'),
      })
      .strict()
      .prefault({}),
    tls: tlsSchema.prefault({}),
    /** Only runs on these branches (globs: `*` within a segment, `**` across `/`) touch production. */
    production: z
      .object({
        branches: z
          .array(z.string().min(1))
          .min(1)
          .default(() => [...DEFAULT_PRODUCTION_BRANCHES]),
      })
      .strict()
      .prefault({}),
    /** Every other branch gets its own site at https://<branch slug>.<domain> (docs/kubernetes.md and docs/host.md, "Previews"). */
    previews: z
      .object({
        /** Previews are served as its subdomains: on Kubernetes through one wildcard certificate for *.<domain>, on hosts with a certificate per preview. */
        domain: hostname,
        /** Kubernetes: where the previews run; default <namespace>-previews. */
        namespace: dnsLabel.optional(),
        resources: z
          .object({
            cpu: quantity.default('10m'),
            memory: quantity.default('32Mi'),
            memoryLimit: quantity.default('64Mi'),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .optional(),
    frontends: z
      .object({
        /** two-ingress: one GKE Ingress per static IP sharing one certificate; gateway: one Gateway with both. */
        mode: z.enum(['two-ingress', 'gateway']).default('two-ingress'),
        ipv4AddressName: gcpName.default('website-ipv4'),
        ipv6AddressName: gcpName.default('website-ipv6'),
        /** Answer plain HTTP with a redirect to HTTPS (ACME HTTP-01 challenges still get through). */
        httpsRedirect: z.boolean().default(true),
      })
      .strict()
      .refine((f) => f.ipv4AddressName !== f.ipv6AddressName, {
        message: 'ipv4AddressName and ipv6AddressName must name two different addresses',
        path: ['ipv6AddressName'],
      })
      .prefault({}),
  })
  .strict()
  .superRefine((d, ctx) => {
    for (const message of d.previews ? previewProblems(d, d.previews) : []) {
      ctx.addIssue({ code: 'custom', path: ['previews'], message });
    }
    if (d.target === 'host' && !d.host) {
      ctx.addIssue({
        code: 'custom',
        path: ['host'],
        message: 'is required with target: host (e.g. host: { servers: [{ ssh: deploy@vm1.example.com }] })',
      });
    }
  });

export type DeployConfig = z.infer<typeof deployConfigSchema>;

type PreviewsConfig = NonNullable<DeployConfig['previews']>;

/** The namespace previews run in. */
export function previewsNamespace(
  deploy: Pick<DeployConfig, 'namespace'> & { previews?: { namespace?: string | undefined } | undefined },
): string {
  return deploy.previews?.namespace ?? `${deploy.namespace}-previews`;
}

/** What a previews section needs of the rest of the deploy section. */
function previewProblems(
  d: { target: string; namespace: string; tls: { provider: string; cloudDNS?: unknown }; hosts: string[] },
  p: PreviewsConfig,
): string[] {
  const problems: string[] = [];
  if (d.target === 'host') {
    // Caddy gets each preview's certificate by itself (HTTP-01 or TLS-ALPN, per name): no wildcard, no tls: section.
    if (p.namespace)
      problems.push(
        'namespace is for the Kubernetes target; on the host target previews live under deploy.host.root',
      );
  } else {
    if (d.tls.provider !== 'cert-manager')
      problems.push(
        'need a wildcard certificate for *.' +
          p.domain +
          ', which Google-managed certificates cannot be: use tls.provider: cert-manager with tls.cloudDNS (DNS-01)',
      );
    else if (!d.tls.cloudDNS)
      problems.push(
        'need a wildcard certificate for *.' +
          p.domain +
          ", which Let's Encrypt issues over DNS-01 only: add tls.cloudDNS: { project: PROJECT }",
      );
    if (!p.namespace && `${d.namespace}-previews`.length > 63)
      problems.push(
        `namespace: ${d.namespace}-previews is longer than 63 characters; set previews.namespace`,
      );
    if ((p.namespace ?? `${d.namespace}-previews`) === d.namespace)
      problems.push('namespace must differ from the production namespace');
  }
  // A slug is up to 63 characters, and a DNS name at most 253.
  if (p.domain.length > 253 - 64)
    problems.push(
      `domain: ${p.domain} leaves no room for a branch's label (253 characters in all); pick a shorter one`,
    );
  if (d.hosts.some((h) => h.endsWith(`.${p.domain}`) && !h.slice(0, -p.domain.length - 1).includes('.')))
    problems.push(
      `domain: a production host is a direct subdomain of ${p.domain}, so a branch could take its name; pick a domain of its own (e.g. previews.example.com)`,
    );
  return problems;
}
