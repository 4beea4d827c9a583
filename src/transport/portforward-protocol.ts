/**
 * The Kubernetes pods/portforward WebSocket protocol, every wire value in one place.
 *
 * Source: kubernetes/kubernetes `staging/src/k8s.io/apiserver/pkg/util/wsstream/conn.go` (channel
 * protocols) and `pkg/kubelet/cri/streaming/portforward/websocket.go` (port header, channel numbering):
 * - subprotocols `v4.channel.k8s.io` (binary) and `v4.base64.channel.k8s.io`; none is treated like
 *   the binary channel protocol;
 * - each message starts with one channel byte; port number i of `?ports=` uses data channel 2i and
 *   error channel 2i+1;
 * - right after the upgrade the server writes on each channel of a port the port as uint16
 *   little-endian (`portBytes` in websocket.go), before any data; client messages carry no header;
 * - a dial failure, or any error later, arrives as text on the error channel, then the server closes;
 * - there is no half-close: closing either side ends the tunnel.
 */

/** The binary channel subprotocol this client asks for. */
export const PORTFORWARD_SUBPROTOCOL = 'v4.channel.k8s.io';

/** Channels for the single port this client forwards (index 0 in `?ports=`). */
export const PortForwardChannel = {
  /** Bytes to and from the pod's port. Both directions. */
  data: 0,
  /** Server → client only: UTF-8 error text. */
  error: 1,
} as const;

/** Length of the uint16 little-endian port header that opens each server → client channel. */
export const PORT_HEADER_BYTES = 2;

/** The path of the portforward subresource for one pod and one port (no host, no leading slash). */
export function portForwardPath(namespace: string, pod: string, port: number): string {
  return `api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/portforward?ports=${port}`;
}
