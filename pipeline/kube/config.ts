import { z } from 'zod';

const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS label: lowercase letters, digits, -')
  .max(63);

const hostname = z
  .string()
  .regex(/^(?=.{1,253}$)([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,63}$/, 'must be a lowercase DNS name, e.g. www.example.com');

/** The `deploy:` section: where and how the site runs on Kubernetes. */
export const deployConfigSchema = z
  .object({
    namespace: dnsLabel.default('website'),
    name: dnsLabel.default('website'),
    replicas: z.number().int().min(1).default(3),
    /** Host names the site answers on; the certificate covers all of them. */
    hosts: z.array(hostname).min(1),
    /** kubeconfig context; the current context when omitted. */
    context: z.string().optional(),
    /** How long a rollout may go without progress before it counts as failed. */
    progressDeadlineSeconds: z.number().int().min(10).default(300),
    resources: z
      .object({
        cpu: z.string().default('50m'),
        memory: z.string().default('64Mi'),
        cpuLimit: z.string().optional(),
        memoryLimit: z.string().default('128Mi'),
      })
      .strict()
      .default({ cpu: '50m', memory: '64Mi', memoryLimit: '128Mi' }),
    tls: z
      .object({
        /** cert-manager (ACME v2 through a ClusterIssuer) or GKE's ManagedCertificate. */
        provider: z.enum(['cert-manager', 'managed-certificate']).default('cert-manager'),
        /** Let's Encrypt environment for cert-manager. */
        acme: z.enum(['staging', 'production']).default('production'),
        email: z.email().optional(),
      })
      .strict()
      .default({ provider: 'cert-manager', acme: 'production' }),
    frontends: z
      .object({
        /** two-ingress: one GKE Ingress per static IP sharing one certificate; gateway: one Gateway with both. */
        mode: z.enum(['two-ingress', 'gateway']).default('two-ingress'),
        ipv4AddressName: z.string().default('website-ipv4'),
        ipv6AddressName: z.string().default('website-ipv6'),
      })
      .strict()
      .default({ mode: 'two-ingress', ipv4AddressName: 'website-ipv4', ipv6AddressName: 'website-ipv6' }),
  })
  .strict();

export type DeployConfig = z.infer<typeof deployConfigSchema>;
