/**
 * The sandbox's CA and serving certificate, made once with the `openssl` CLI and cached in
 * `.sandbox/pki/` (kept by `down`), so kubeconfigs stay valid across restarts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** PEM bytes of the CA certificate and of the server certificate and key. */
export interface Pki {
  caCert: Buffer;
  cert: Buffer;
  key: Buffer;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Loads the cached PKI or creates it (ECDSA P-256; the server cert names 127.0.0.1, ::1 and localhost). */
export function ensurePki(dir: string): Pki {
  const files = { caCert: join(dir, 'ca.crt'), caKey: join(dir, 'ca.key'), cert: join(dir, 'apiserver.crt'), key: join(dir, 'apiserver.key') };
  if (!existsSync(files.cert) || !existsSync(files.key) || !existsSync(files.caCert)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key'], dir);
    openssl(['req', '-x509', '-new', '-key', 'ca.key', '-sha256', '-days', '3650', '-subj', '/CN=sandbox-ca', '-out', 'ca.crt'], dir);
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'apiserver.key'], dir);
    openssl(['req', '-new', '-key', 'apiserver.key', '-subj', '/CN=kube-apiserver', '-out', 'apiserver.csr'], dir);
    writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n');
    openssl(['x509', '-req', '-in', 'apiserver.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '3650', '-sha256', '-extfile', 'ext.cnf', '-out', 'apiserver.crt'], dir);
  }
  return { caCert: readFileSync(files.caCert), cert: readFileSync(files.cert), key: readFileSync(files.key) };
}
