/**
 * The sandbox's CA and serving certificate, made once with the `openssl` CLI and cached in
 * `.sandbox/pki/` (kept by `down`), so kubeconfigs stay valid across restarts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

/**
 * The serving certificate's names: loopback for kubectl on this machine, and what in-cluster
 * clients dial: the `kubernetes` Service's ClusterIP and DNS names, and the node's pod-network
 * address behind it (test/sandbox/node/network-constants.ts GATEWAY_IP).
 */
const SANS = 'IP:127.0.0.1,IP:::1,IP:10.96.0.1,IP:10.244.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local';
const SANS_VERSION = 2;
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

/** Loads the cached PKI or creates it (ECDSA P-256; the server cert names SANS). */
export function ensurePki(dir: string): Pki {
  const files = { caCert: join(dir, 'ca.crt'), caKey: join(dir, 'ca.key'), cert: join(dir, 'apiserver.crt'), key: join(dir, 'apiserver.key') };
  // A PKI from before the pod-facing names were added is made again.
  const stale = existsSync(files.cert) && !existsSync(join(dir, `sans-${SANS_VERSION}`));
  if (stale) rmSync(files.cert);
  if (!existsSync(files.cert) || !existsSync(files.key) || !existsSync(files.caCert)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key'], dir);
    openssl(['req', '-x509', '-new', '-key', 'ca.key', '-sha256', '-days', '3650', '-subj', '/CN=sandbox-ca', '-out', 'ca.crt'], dir);
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'apiserver.key'], dir);
    openssl(['req', '-new', '-key', 'apiserver.key', '-subj', '/CN=kube-apiserver', '-out', 'apiserver.csr'], dir);
    writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=${SANS}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n`);
    openssl(['x509', '-req', '-in', 'apiserver.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '3650', '-sha256', '-extfile', 'ext.cnf', '-out', 'apiserver.crt'], dir);
    writeFileSync(join(dir, `sans-${SANS_VERSION}`), `${SANS}\n`);
  }
  return { caCert: readFileSync(files.caCert), cert: readFileSync(files.cert), key: readFileSync(files.key) };
}
