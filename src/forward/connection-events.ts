/**
 * What each user connection through the session did, for the connection log (`-v`, the UI). `-L`,
 * `-R` and SOCKS all report in this shape, so one logger serves every mode.
 */

/** One line of per-connection activity. */
export interface ConnectionEvent {
  /** The mode and spec that carried it: `-L 8080:web:80`, `-R 80`, `socks`. */
  via: string;
  /** Where the user connected on this machine, for the default failure line: `port 8080`, `port 5353/udp`, `SOCKS port 1080`. */
  listener?: string;
  peer: string;
  destination: string;
  outcome: 'closed' | 'failed';
  /** Bytes from the connection's initiator, and toward it. */
  sent: number;
  received: number;
  error?: Error;
  /**
   * The connection never reached its destination: no agent connection, or the agent could not
   * resolve or connect to it. Such failures are shown by default; errors after that only with -v.
   */
  failedToConnect?: boolean;
  durationMs: number;
  /** For UDP: datagrams each way and those dropped on this side (window, queue, size). */
  datagrams?: {
    sent: number;
    received: number;
    dropped: number;
    /** Dropped by the kernel on the listening socket (receive buffer full), since it was bound; undefined where unknown. */
    kernelDropped?: number;
  };
}

export type ConnectionLog = (event: ConnectionEvent) => void;
