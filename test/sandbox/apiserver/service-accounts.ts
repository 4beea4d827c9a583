/**
 * ServiceAccounts as kube-apiserver serves them: the ServiceAccount admission plugin
 * (plugin/pkg/admission/serviceaccount) and bound ServiceAccount tokens
 * (https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/).
 *
 * - Admission: a pod names an existing ServiceAccount (else it is refused, `error looking up
 *   service account NS/NAME: serviceaccount "NAME" not found`), and unless the pod or its
 *   ServiceAccount sets `automountServiceAccountToken: false`, it gets the projected volume
 *   `kube-api-access-<5 chars>` (token, the `kube-root-ca.crt` ConfigMap's ca.crt, the namespace)
 *   mounted read-only at /var/run/secrets/kubernetes.io/serviceaccount in every container.
 * - Tokens: JWTs the kubelet asks for (TokenRequest), bound to the pod. They authenticate as
 *   `system:serviceaccount:NS:NAME` while the ServiceAccount and the pod (same uids) exist and the
 *   token has not expired. Signed with HMAC-SHA256 and a key that lives only in the API server's
 *   process: the kubelet half gets tokens through `TokenIssuer` (contract.ts), never the key.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KObject, TokenIssuer } from '../contract.ts';
import { forbidden } from './status.ts';
import type { ObjectStore } from './store.ts';

export const SERVICE_ACCOUNT_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';
/** The ConfigMap the root CA publisher puts in every namespace. */
export const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt';

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function suffix(): string {
  const chars = 'bcdfghjklmnpqrstvwxz2456789';
  return Array.from(randomBytes(5), (b) => chars[b % chars.length]).join('');
}

/** The admission plugin's mutation and check of a new pod. Throws the 403 upstream sends. */
export function admitServiceAccount(store: ObjectStore, pod: KObject): void {
  const ns = pod.metadata.namespace ?? 'default';
  const spec = pod.spec;
  const name: string = spec.serviceAccountName ?? 'default';
  const sa = store.get('serviceaccounts', ns, name);
  // A namespace's "default" ServiceAccount appears a moment after the namespace (the ServiceAccount
  // controller makes it); the sandbox admits pods in that moment rather than refusing them, so
  // tests that create a namespace and a pod at once do not race. Any other missing one is refused.
  if (!sa && name === 'default') return;
  if (!sa) {
    throw forbidden(`pods "${pod.metadata.name ?? ''}" is forbidden: error looking up service account ${ns}/${name}: serviceaccount "${name}" not found`, pod.metadata.name, 'pods');
  }
  const automount = spec.automountServiceAccountToken ?? sa.automountServiceAccountToken ?? true;
  if (!automount) return;
  const containers = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  if (containers.some((c: any) => (c.volumeMounts ?? []).some((m: any) => m.mountPath === SERVICE_ACCOUNT_MOUNT))) return;
  const volume = `kube-api-access-${suffix()}`;
  spec.volumes = [...(spec.volumes ?? []), {
    name: volume,
    projected: {
      defaultMode: 0o644,
      sources: [
        { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
        { configMap: { name: ROOT_CA_CONFIGMAP, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
      ],
    },
  }];
  for (const c of containers) c.volumeMounts = [...(c.volumeMounts ?? []), { name: volume, readOnly: true, mountPath: SERVICE_ACCOUNT_MOUNT }];
}

/** Issues and checks bound ServiceAccount tokens. */
export class ServiceAccountTokens implements TokenIssuer {
  readonly #key = randomBytes(32);
  readonly #store: ObjectStore;

  constructor(store: ObjectStore) {
    this.#store = store;
  }

  #sign(body: string): string {
    return createHmac('sha256', this.#key).update(body).digest('base64url');
  }

  /** A token for the pod's ServiceAccount, as the TokenRequest API returns one. */
  serviceAccountToken(pod: KObject, expirationSeconds: number): string {
    const ns = pod.metadata.namespace ?? 'default';
    const name: string = pod.spec?.serviceAccountName ?? 'default';
    const sa = this.#store.get('serviceaccounts', ns, name);
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: 'https://kubernetes.default.svc.cluster.local', aud: ['https://kubernetes.default.svc.cluster.local'], sub: `system:serviceaccount:${ns}:${name}`,
      iat: now, nbf: now, exp: now + expirationSeconds,
      'kubernetes.io': { namespace: ns, serviceaccount: { name, uid: sa?.metadata.uid ?? '' }, pod: { name: pod.metadata.name, uid: pod.metadata.uid } },
    };
    const body = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
    return `${body}.${this.#sign(body)}`;
  }

  /** The user a token authenticates as, or undefined (not ours, bad signature, expired, unbound). */
  authenticate(token: string): string | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const expected = Buffer.from(this.#sign(`${parts[0]}.${parts[1]}`));
    const given = Buffer.from(parts[2]);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    let claims: any;
    try {
      claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) return undefined;
    const k = claims['kubernetes.io'] ?? {};
    const sa = this.#store.get('serviceaccounts', k.namespace, k.serviceaccount?.name);
    if (!sa || sa.metadata.uid !== k.serviceaccount?.uid) return undefined;
    const pod = this.#store.get('pods', k.namespace, k.pod?.name);
    if (!pod || pod.metadata.uid !== k.pod?.uid) return undefined;
    return claims.sub;
  }
}
