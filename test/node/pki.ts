import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const openssl = (args: string[]) => promisify(execFile)('openssl', args);

/** A certificate and its key, as file paths. */
export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

/** What one certificate is for: its subject and, for a server, the names it answers to. */
export interface CertificateRequest {
  readonly file: string;
  readonly commonName: string;
  readonly organization?: string;
  readonly ips?: string[];
  readonly dnsNames?: string[];
}

/**
 * The node's certificate authority, made with openssl: one CA signs every server and client
 * certificate, as kubeadm's cluster CA does; the service-account key pair is separate.
 */
export class Pki {
  private constructor(
    private readonly folder: string,
    readonly ca: KeyPair,
  ) {}

  static async create(folder: string): Promise<Pki> {
    const ca = { cert: join(folder, 'ca.crt'), key: join(folder, 'ca.key') };
    await openssl(['genrsa', '-out', ca.key, '2048']);
    await openssl([
      'req',
      '-x509',
      '-new',
      '-key',
      ca.key,
      '-subj',
      '/CN=two-tier-node-ca',
      '-days',
      '2',
      '-out',
      ca.cert,
    ]);
    return new Pki(folder, ca);
  }

  /** A key and a certificate signed by the CA, for a client (no names) or a server (ips or dnsNames). */
  async issue(request: CertificateRequest): Promise<KeyPair> {
    const base = join(this.folder, request.file);
    const pair = { cert: `${base}.crt`, key: `${base}.key` };
    const subject = `/CN=${request.commonName}${request.organization ? `/O=${request.organization}` : ''}`;
    const names = [...(request.ips ?? []).map((ip) => `IP:${ip}`), ...(request.dnsNames ?? []).map((n) => `DNS:${n}`)];
    const extensions = [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      `extendedKeyUsage=${names.length > 0 ? 'serverAuth,clientAuth' : 'clientAuth'}`,
      ...(names.length > 0 ? [`subjectAltName=${names.join(',')}`] : []),
    ];
    await writeFile(`${base}.ext`, `${extensions.join('\n')}\n`);
    await openssl(['genrsa', '-out', pair.key, '2048']);
    await openssl(['req', '-new', '-key', pair.key, '-subj', subject, '-out', `${base}.csr`]);
    await openssl([
      'x509',
      '-req',
      '-in',
      `${base}.csr`,
      '-CA',
      this.ca.cert,
      '-CAkey',
      this.ca.key,
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      `${base}.ext`,
      '-out',
      pair.cert,
    ]);
    return pair;
  }

  /** The key pair that signs and verifies service-account tokens. */
  async serviceAccountKeys(): Promise<{ privateKey: string; publicKey: string }> {
    const privateKey = join(this.folder, 'sa.key');
    const publicKey = join(this.folder, 'sa.pub');
    await openssl(['genrsa', '-out', privateKey, '2048']);
    await openssl(['rsa', '-in', privateKey, '-pubout', '-out', publicKey]);
    return { privateKey, publicKey };
  }
}

/** A kubeconfig for one identity, with its certificate, against the API server at `server`. */
export function kubeconfig(server: string, ca: string, user: KeyPair, context = 'two-tier-node'): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: context, cluster: { server, 'certificate-authority': ca } }],
    users: [{ name: context, user: { 'client-certificate': user.cert, 'client-key': user.key } }],
    contexts: [{ name: context, context: { cluster: context, user: context } }],
    'current-context': context,
  });
}
