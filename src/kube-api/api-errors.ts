/**
 * Turns what the API server (or the network on the way to it) answered into a `MirrordError` a user
 * can act on. Used for client-node's `ApiException`, for raw HTTP answers such as a refused
 * WebSocket upgrade, and for network errors.
 */
import { AgentError, ClusterError, KubeconfigError, MirrordError } from '../errors.ts';

/** A Kubernetes `Status` object, as far as messages go. */
interface StatusBody {
  message?: string;
  reason?: string;
}

/** Network error codes that mean "the API server cannot be reached", with a hint each. */
const UNREACHABLE_HINTS: Record<string, string> = {
  ECONNREFUSED: 'nothing listens at that address: is the cluster running, and is the server URL right?',
  ENOTFOUND: 'the server name does not resolve: check the server URL and your DNS or VPN',
  EAI_AGAIN: 'the server name could not be resolved right now: check your DNS or VPN',
  ETIMEDOUT: 'the API server did not answer in time: check the VPN, proxy or firewall',
  EHOSTUNREACH: 'no route to the API server: check the VPN or network',
  ENETUNREACH: 'no route to the API server: check the VPN or network',
  ECONNRESET: 'the connection to the API server was reset: check the proxy or load balancer',
};

/** TLS verification failures: the CA in the kubeconfig does not match the server. */
const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);

function parseStatus(body: unknown): StatusBody {
  if (typeof body === 'string') {
    try {
      return parseStatus(JSON.parse(body));
    } catch {
      return { message: body.trim().slice(0, 300) || undefined };
    }
  }
  if (body !== null && typeof body === 'object') return body as StatusBody;
  return {};
}

/** The first `code` string found along an error's cause chain (fetch hides it in `cause`). */
export function networkCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 6 && current !== null && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Maps an HTTP status and body from the API server.
 * @param action what was being done, for the message: `create Job "x" in namespace "y"`.
 */
export function errorFromHttpStatus(status: number, body: unknown, action: string): MirrordError {
  const parsed = parseStatus(body);
  const detail = parsed.message ?? `HTTP ${status}`;
  switch (status) {
    case 401:
      return new KubeconfigError('EUNAUTHORIZED', `the API server rejected your credentials while trying to ${action}: ${detail}`, {
        hint: 'your token or certificate has expired or is wrong: log in again (check with kubectl get ns)',
      });
    case 403:
      return new ClusterError('EFORBIDDEN', detail, {
        hint: `you are not allowed to ${action}: ask a cluster admin for that permission, or use another --namespace`,
      });
    case 404:
      return new ClusterError('ENOTFOUND', `${detail} (while trying to ${action})`, {
        hint: 'check the name and the --namespace',
      });
    default:
      return new AgentError('EAPI', `could not ${action}: ${detail} (HTTP ${status})`, {
        hint: 'run again with -v for details',
      });
  }
}

/**
 * Maps anything a client-node call or a raw request threw. `ApiException` (has a numeric `code` and a
 * `body`) goes through `errorFromHttpStatus`; network failures become `EAPIUNREACHABLE`.
 * @param server the API server URL, named in unreachable messages.
 */
export function errorFromKubeCall(err: unknown, action: string, server: string): MirrordError {
  if (err instanceof MirrordError) return err;
  const apiCode = (err as { code?: unknown } | null)?.code;
  if (typeof apiCode === 'number' && apiCode >= 400) return errorFromHttpStatus(apiCode, (err as { body?: unknown }).body, action);
  const code = networkCode(err);
  if (code !== undefined && code in UNREACHABLE_HINTS) {
    return new KubeconfigError('EAPIUNREACHABLE', `cannot reach the API server ${server} (${code})`, {
      hint: UNREACHABLE_HINTS[code],
      cause: err,
    });
  }
  if (code !== undefined && TLS_CODES.has(code)) {
    return new KubeconfigError('ETLS', `the API server ${server} failed TLS verification (${code})`, {
      hint: "the kubeconfig's certificate-authority does not match the server: check the cluster entry",
      cause: err,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new AgentError('EAPI', `could not ${action}: ${message.split('\n')[0]}`, { hint: 'run again with -v for details', cause: err });
}
