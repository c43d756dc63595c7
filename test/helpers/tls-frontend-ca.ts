import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

/** A certificate and its key on disk, as nginx takes them. */
export interface Issued {
  certPath: string;
  keyPath: string;
  /** Upper-case hex, as the TLS probe reports it. */
  serial: string;
  notAfter: Date;
}

export interface IssueOptions {
  /** DNS names of the subjectAltName; the first is also the CN. */
  names: string[];
  /** Hex; random when omitted. */
  serial?: string;
  notBefore?: Date;
  notAfter?: Date;
}

export interface TestCa {
  dir: string;
  /** The CA certificate (PEM file), for verify.caFile. */
  certPath: string;
  issue(opts: IssueOptions): Promise<Issued>;
  /** A certificate signed by its own key, not by the CA. */
  selfSigned(opts: IssueOptions): Promise<Issued>;
}

const DAY = 86_400_000;
const days = (n: number) => new Date(Date.now() + n * DAY);

/** openssl ca's date format, YYYYMMDDHHMMSSZ. */
const asn1Time = (d: Date) => `${d.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;

const LEAF_EXTENSIONS = (names: string[]) =>
  [
    '[leaf]',
    'basicConstraints = critical,CA:FALSE',
    'keyUsage = critical,digitalSignature',
    'extendedKeyUsage = serverAuth',
    `subjectAltName = ${names.map((n) => `DNS:${n}`).join(',')}`,
    '',
  ].join('\n');

/**
 * A certificate authority made with openssl for one test run: `openssl ca` signs leaves with
 * any validity period (past ones too, for expired certificates) and the serial asked for.
 */
export async function createTestCa(dir: string): Promise<TestCa> {
  await mkdir(join(dir, 'newcerts'), { recursive: true });
  await writeFile(join(dir, 'index.txt'), '');
  const certPath = join(dir, 'ca.crt');
  const keyPath = join(dir, 'ca.key');
  const config = join(dir, 'ca.cnf');
  await writeFile(
    config,
    [
      '[ca]',
      'default_ca = test',
      '[test]',
      `database = ${join(dir, 'index.txt')}`,
      `new_certs_dir = ${join(dir, 'newcerts')}`,
      `certificate = ${certPath}`,
      `private_key = ${keyPath}`,
      `serial = ${join(dir, 'serial')}`,
      'default_md = sha256',
      'policy = any',
      'unique_subject = no',
      'email_in_dn = no',
      '[any]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );
  await execa('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-days',
    '3650',
    '-subj',
    '/CN=sitepipe test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);

  const leafFiles = async (o: IssueOptions) => {
    const id = randomBytes(6).toString('hex');
    const serial = (o.serial ?? `5E${randomBytes(8).toString('hex')}`).toUpperCase();
    const files = {
      key: join(dir, `${id}.key`),
      csr: join(dir, `${id}.csr`),
      cert: join(dir, `${id}.crt`),
      ext: join(dir, `${id}.ext`),
    };
    await execa('openssl', [
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-out',
      files.key,
    ]);
    await writeFile(files.ext, LEAF_EXTENSIONS(o.names));
    return { files, serial, notBefore: o.notBefore ?? days(-1), notAfter: o.notAfter ?? days(90) };
  };

  return {
    dir,
    certPath,
    async issue(o) {
      const { files, serial, notBefore, notAfter } = await leafFiles(o);
      await execa('openssl', [
        'req',
        '-new',
        '-key',
        files.key,
        '-subj',
        `/CN=${o.names[0]}`,
        '-out',
        files.csr,
      ]);
      await writeFile(join(dir, 'serial'), `${serial}\n`);
      await execa('openssl', [
        'ca',
        '-batch',
        '-config',
        config,
        '-notext',
        '-in',
        files.csr,
        '-out',
        files.cert,
        '-startdate',
        asn1Time(notBefore),
        '-enddate',
        asn1Time(notAfter),
        '-extfile',
        files.ext,
        '-extensions',
        'leaf',
      ]);
      return { certPath: files.cert, keyPath: files.key, serial, notAfter };
    },
    async selfSigned(o) {
      const { files, serial, notAfter } = await leafFiles(o);
      const validDays = Math.max(1, Math.round((notAfter.getTime() - Date.now()) / DAY));
      await execa('openssl', [
        'req',
        '-x509',
        '-key',
        files.key,
        '-subj',
        `/CN=${o.names[0]}`,
        '-set_serial',
        `0x${serial}`,
        '-days',
        String(validDays),
        '-addext',
        `subjectAltName=${o.names.map((n) => `DNS:${n}`).join(',')}`,
        '-addext',
        'basicConstraints=critical,CA:FALSE',
        '-out',
        files.cert,
      ]);
      return { certPath: files.cert, keyPath: files.key, serial, notAfter };
    },
  };
}
