import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';

/** A free TCP port on 127.0.0.1 (the kernel's pick, released at once). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const address = s.address();
      s.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Resolves once something accepts connections on host:port. */
export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, host, () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Sshd {
  port: number;
  /** user@127.0.0.1:port, as deploy.host.servers[].ssh takes it. */
  ssh: string;
  identityFile: string;
  knownHostsFile: string;
  /** A known_hosts file with another key for the same address: the wrong host key. */
  wrongKnownHostsFile: string;
  stop(): Promise<void>;
}

async function keygen(path: string): Promise<string> {
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'sitepipe-test', '-f', path]);
  return (await readFile(`${path}.pub`, 'utf8')).trim();
}

/**
 * Debian's OpenSSH server on 127.0.0.1 and a free port, with its own config, host key and one
 * authorized key (for the user running the tests, root here). Nothing of the system's sshd
 * config or keys is used.
 */
export async function startSshd(dir: string): Promise<Sshd> {
  await mkdir(dir, { recursive: true });
  const hostKey = join(dir, 'host_ed25519');
  const hostPub = await keygen(hostKey);
  const otherPub = await keygen(join(dir, 'other_host_ed25519'));
  const identityFile = join(dir, 'id_ed25519');
  const userPub = await keygen(identityFile);
  await writeFile(join(dir, 'authorized_keys'), `${userPub}\n`);
  const port = await freePort();
  const [hostType, hostKeyText] = hostPub.split(' ');
  const [, otherKeyText] = otherPub.split(' ');
  const knownHostsFile = join(dir, 'known_hosts');
  const wrongKnownHostsFile = join(dir, 'known_hosts.wrong');
  await writeFile(knownHostsFile, `[127.0.0.1]:${port} ${hostType} ${hostKeyText}\n`);
  await writeFile(wrongKnownHostsFile, `[127.0.0.1]:${port} ${hostType} ${otherKeyText}\n`);
  const config = join(dir, 'sshd_config');
  await writeFile(
    config,
    [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      // The temp dir's modes are the test runner's, not a home directory's.
      'StrictModes no',
      'MaxStartups 100:30:200',
      'MaxSessions 100',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  await mkdir('/run/sshd', { recursive: true }); // sshd's privilege separation dir
  const child: ResultPromise = execa('/usr/sbin/sshd', ['-D', '-e', '-f', config], {
    reject: false,
    stdin: 'ignore',
  });
  await waitForPort(port);
  const user = (await execa('id', ['-un'])).stdout.trim();
  return {
    port,
    ssh: `${user}@127.0.0.1:${port}`,
    identityFile,
    knownHostsFile,
    wrongKnownHostsFile,
    async stop() {
      child.kill('SIGTERM');
      await child;
    },
  };
}
