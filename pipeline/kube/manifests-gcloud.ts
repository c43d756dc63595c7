import type { Config } from '../config.js';
import { requireDeploy } from './manifests-common.js';

/** One Google Cloud command: the argv to run, what it is for, and how to tell it already happened. */
export interface GcloudCommand {
  argv: string[];
  why: string;
  /** argv of a read-only command that succeeds when the resource exists already. */
  existsArgv?: string[];
}

/**
 * The resources the manifests refer to by name and that only gcloud creates: the two global
 * static addresses (and, for a Gateway with a Google-managed certificate, that certificate).
 * argv arrays, so a step can run them without a shell.
 */
export function gcloudCommands(config: Config): GcloudCommand[] {
  const deploy = requireDeploy(config);
  const { ipv4AddressName, ipv6AddressName, mode } = deploy.frontends;
  const address = (name: string, version: 'IPV4' | 'IPV6'): GcloudCommand => ({
    argv: ['gcloud', 'compute', 'addresses', 'create', name, '--global', '--ip-version', version],
    why: `the global ${version === 'IPV4' ? 'IPv4' : 'IPv6'} static address`,
    existsArgv: ['gcloud', 'compute', 'addresses', 'describe', name, '--global', '--format', 'value(name)'],
  });
  const commands = [address(ipv4AddressName, 'IPV4'), address(ipv6AddressName, 'IPV6')];
  if (mode === 'gateway' && deploy.tls.provider === 'managed-certificate') {
    const name = deploy.tls.sslCertificateName;
    commands.push({
      argv: [
        'gcloud',
        'compute',
        'ssl-certificates',
        'create',
        name,
        '--global',
        `--domains=${deploy.hosts.join(',')}`,
      ],
      why: 'the Google-managed certificate the Gateway listener names (pre-shared-certs)',
      existsArgv: [
        'gcloud',
        'compute',
        'ssl-certificates',
        'describe',
        name,
        '--global',
        '--format',
        'value(name)',
      ],
    });
  }
  return commands;
}

/** Commands that print the reserved addresses, for the A and AAAA records. */
export function gcloudShowAddresses(config: Config): string[][] {
  const { ipv4AddressName, ipv6AddressName } = requireDeploy(config).frontends;
  return [ipv4AddressName, ipv6AddressName].map((name) => [
    'gcloud',
    'compute',
    'addresses',
    'describe',
    name,
    '--global',
    '--format',
    'value(address)',
  ]);
}

function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function shellLine(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

/** A re-runnable script: creates what is missing, then prints the addresses for DNS. */
export function gcloudScript(config: Config): string {
  const deploy = requireDeploy(config);
  const lines = [
    '#!/bin/sh',
    '# Written by sitepipe manifests: the Google Cloud resources the manifests name.',
    '# Run once per project, after `gcloud config set project PROJECT`; safe to re-run.',
    'set -eu',
    '',
  ];
  for (const c of gcloudCommands(config)) {
    lines.push(`# ${c.why}`);
    lines.push(
      c.existsArgv ? `${shellLine(c.existsArgv)} >/dev/null 2>&1 || ${shellLine(c.argv)}` : shellLine(c.argv),
    );
  }
  const [v4, v6] = gcloudShowAddresses(config);
  lines.push(
    '',
    `# DNS: an A record (IPv4) and an AAAA record (IPv6) for each of: ${deploy.hosts.join(' ')}`,
    `echo "A    $(${shellLine(v4 ?? [])})"`,
    `echo "AAAA $(${shellLine(v6 ?? [])})"`,
    '',
  );
  return lines.join('\n');
}

/** The same commands as comment lines, for the top of the YAML on stdout. */
export function gcloudComment(config: Config): string[] {
  const deploy = requireDeploy(config);
  return [
    'Create these Google Cloud resources first (once per project; gcloud.sh in --out skips existing ones):',
    ...gcloudCommands(config).map((c) => `  ${shellLine(c.argv)}`),
    `Then point A (IPv4) and AAAA (IPv6) records for ${deploy.hosts.join(', ')} at them:`,
    ...gcloudShowAddresses(config).map((argv) => `  ${shellLine(argv)}`),
  ];
}
