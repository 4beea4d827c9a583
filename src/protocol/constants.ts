/**
 * Every number that appears on the wire between the CLI and the agent. No other file writes a wire
 * number: they import these names. The prose specification is docs/protocol.md; its tests
 * (constants.test.ts) check that the two agree.
 *
 * New frame types, reasons and capabilities only ever go at the end, with a new number.
 */

/** The protocol version this build speaks. Both sides must speak the same version. */
export const PROTOCOL_VERSION = 1;

/** First four bytes of a HELLO payload: "KMRD". Lets the agent spot a peer that is not a CLI. */
export const HELLO_MAGIC = 0x4b4d5244;

/** Frame header: length u32, type u8, flags u8, stream id u32, all big-endian. */
export const HEADER_SIZE = 10;

/** Largest payload a frame may carry. A bigger length field ends the session. */
export const MAX_FRAME_PAYLOAD = 1024 * 1024;

/** Largest frame accepted during the handshake (HELLO is about 300 bytes at most). */
export const MAX_HANDSHAKE_FRAME = 4096;

/** Longest message, in UTF-8 bytes, that RESET and GOAWAY carry; a longer one is cut at a character boundary. */
export const MAX_MESSAGE_BYTES = 4096;

/** Longest client or agent name, in UTF-8 bytes, in HELLO and WELCOME (a u8 length); cut at a character boundary. */
export const MAX_NAME_BYTES = 255;

/** PING payload: this many opaque bytes, echoed in the answer. */
export const PING_PAYLOAD = 8;

/**
 * The first stream id each side opens; each side then counts up by 2. So the CLI's ids are odd and
 * the agent's even (as in yamux), and the two never collide. Id 0 is the session itself.
 */
export const FirstStreamId = {
  cli: 1,
  agent: 2,
} as const;

/** Largest payload the sender puts in one DATA frame, so that streams take turns often. */
export const DATA_CHUNK = 256 * 1024;

/** Frame types. */
export const FrameType = {
  /** cli → agent, stream 0. First frame of a session: magic, version, capabilities, token. */
  hello: 1,
  /** agent → cli, stream 0. Accepts the HELLO: version, agreed capabilities, agent build. */
  welcome: 2,
  /** either → either. Opens a stream: window, transport, destination, optional fields. */
  open: 3,
  /** either → either. The destination is connected; carries the responder's window. */
  openOk: 4,
  /** either → either. Stream bytes. Flag FIN: the sender will send no more on this stream. */
  data: 5,
  /** either → either. Grants the peer more credit on a stream. */
  windowUpdate: 6,
  /** either → either. Aborts a stream in both directions, with a reason. */
  reset: 7,
  /** either → either, stream 0. Keepalive and round-trip probe; flag ACK marks the answer. */
  ping: 8,
  /** either → either, stream 0. No new streams; carries a code and a message. */
  goAway: 9,
  /** either → either. A request; the stream id field is the request id. */
  request: 10,
  /** either → either. The answer to a request with the same id. */
  response: 11,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** Frame flags. */
export const FrameFlag = {
  /** On DATA: the last frame the sender sends on this stream (TCP half-close). */
  fin: 0x01,
  /** On PING: this is the answer. */
  ack: 0x02,
} as const;

/** Stream transports named in OPEN. */
export const Transport = {
  tcp: 1,
  /**
   * A datagram stream: each DATA frame is one UDP datagram, never split or joined. One stream is one
   * 5-tuple (the agent connects its socket to the destination). Needs the udp capability; a peer
   * without it resets such opens with reason unsupported.
   */
  udp: 2,
} as const;
export type Transport = (typeof Transport)[keyof typeof Transport];

/** Address types, as in SOCKS5 (RFC 1928 section 5) so a SOCKS request maps across unchanged. */
export const AddressType = {
  ipv4: 1,
  hostname: 3,
  ipv6: 4,
} as const;
export type AddressType = (typeof AddressType)[keyof typeof AddressType];

/** Optional fields after the fixed part of an OPEN payload: tag u8, length u16, value. */
export const OpenField = {
  /** The address the stream's bytes came from (for streams the agent opens toward the CLI). */
  source: 1,
  /**
   * Datagram streams: u32, milliseconds with no datagram either way after which the opener ends the
   * stream. The responder uses the same timeout (up to MAX_DATAGRAM_IDLE_MS), so neither side ends
   * the stream early; without the field it uses its own default.
   */
  idleTimeout: 2,
} as const;

/** The longest idle timeout a responder takes from OPEN's idleTimeout field: one day. */
export const MAX_DATAGRAM_IDLE_MS = 24 * 60 * 60 * 1000;

/** Optional fields after the window of an OPEN_OK payload, encoded like OpenField's. */
export const OpenOkField = {
  /**
   * The address the responder's socket is connected to: the destination with its hostname
   * resolved. A datagram stream's answers come from this address.
   */
  peer: 1,
} as const;

/**
 * Largest datagram one DATA frame of a datagram stream may carry: the largest UDP payload an IPv6
 * packet without jumbogram holds (payload length u16 of RFC 8200 section 3, less the 8-byte UDP
 * header). IPv4's limit is lower, 65 507 (65 535 less 20 bytes of IP and 8 of UDP header, RFC 791
 * and RFC 768); a datagram the destination's family cannot carry is dropped and counted there.
 */
export const MAX_DATAGRAM = 65_527;

/** Why a stream was reset. */
export const ResetReason = {
  /** The opener or the receiver gave up on the stream. */
  cancelled: 0,
  /** The destination actively refused the connection (ECONNREFUSED). */
  refused: 1,
  /** No route to the destination host (EHOSTUNREACH). */
  hostUnreachable: 2,
  /** No route to the destination network (ENETUNREACH). */
  networkUnreachable: 3,
  /** The hostname did not resolve in the cluster (ENOTFOUND, EAI_AGAIN). */
  dnsFailure: 4,
  /** The connection attempt timed out (ETIMEDOUT). */
  timeout: 5,
  /** The destination reset an established connection (ECONNRESET, EPIPE). */
  connectionReset: 6,
  /** The agent's policy does not allow this destination or operation. */
  notAllowed: 7,
  /** The stream broke the protocol (for example a FIN twice). */
  protocolError: 8,
  /** Something failed inside the agent. */
  internal: 9,
  /** The session is going away and takes no new streams. */
  goingAway: 10,
  /** The transport or address type is not supported by this agent. */
  unsupported: 11,
} as const;
export type ResetReason = (typeof ResetReason)[keyof typeof ResetReason];

/** Why a session ended (GOAWAY code). */
export const GoAwayCode = {
  /** Orderly shutdown. */
  normal: 0,
  /** The peer broke the protocol; the message says how. */
  protocolError: 1,
  /** The token was wrong. */
  authFailed: 2,
  /** The peer speaks another protocol version. */
  versionMismatch: 3,
  /** Nothing happened for the idle timeout. */
  idle: 4,
  /** Something failed inside the sender. */
  internal: 5,
  /**
   * agent → CLI: the agent was told to stop (`kubectl mirrord kill`): the session is over for good,
   * and the CLI must not start another agent.
   */
  stopped: 6,
} as const;
export type GoAwayCode = (typeof GoAwayCode)[keyof typeof GoAwayCode];

/** Capability bits exchanged in HELLO and WELCOME; the session uses their intersection. */
export const Capability = {
  /** Outgoing TCP streams to any address the agent can reach. */
  tcpConnect: 1 << 0,
  /** DNS lookups in the cluster (request op dnsLookup). */
  dns: 1 << 1,
  /** Datagram streams (OPEN with Transport.udp). */
  udp: 1 << 2,
  /** Incoming traffic: streams the agent opens toward the CLI. */
  incoming: 1 << 3,
  /** The target container's files, read-only (request ops fileStat, fileRead, dirList, readLink). */
  files: 1 << 4,
  /** The target container's environment (request op targetEnv). */
  env: 1 << 5,
} as const;

/**
 * Request operations (REQUEST payload starts with one u16 op). Each op's direction, body, answer
 * and error codes are its contract in requests.ts.
 */
export const RequestOp = {
  /** cli → agent. Resolve a hostname in the cluster. */
  dnsLookup: 1,
  /** cli → agent. Redirect a TCP port of the pod to this session (`-R`). */
  portSubscribe: 2,
  /** cli → agent. Ends a subscription. */
  portUnsubscribe: 3,
  /** agent → cli. Something the user should know (dropped mirror copies). */
  notice: 4,
  /** cli → agent. The target container's main process environment. */
  targetEnv: 5,
  /** cli → agent. stat/lstat of a path in the target container. */
  fileStat: 6,
  /** cli → agent. A file's contents, as a stream the agent opens toward the CLI. */
  fileRead: 7,
  /** cli → agent. One page of a directory's entries. */
  dirList: 8,
  /** cli → agent. A symbolic link's target. */
  readLink: 9,
  /** cli → agent. Reverse DNS of an address in the cluster. */
  dnsReverse: 10,
  /** cli → agent. The command is over: exit once no session is left, without the idle timeout. */
  sessionEnd: 11,
} as const;
export type RequestOp = (typeof RequestOp)[keyof typeof RequestOp];

/** RESPONSE status byte. */
export const ResponseStatus = {
  ok: 0,
  /** Body: {code, message}. */
  error: 1,
} as const;

/** Token length in bytes: 32 random bytes, sent raw in HELLO. */
export const TOKEN_BYTES = 32;

/**
 * Credit each side has on a new stream before it hears otherwise: the opener may send this many
 * bytes right behind OPEN, with no round trip. Windows then grow by WINDOW_UPDATE only.
 */
export const INITIAL_WINDOW = 256 * 1024;
