/**
 * The layer link: every message between the LD_PRELOAD layer (layer/, C) and the exec proxy
 * (src/exec/). One connection per process that loaded the layer, over a Unix stream socket.
 * No other file writes a number of this link: the TS codec (layer-codec.ts) reads the declarations
 * below, and scripts/gen-layer-header.ts turns them into layer/src/generated/layer_protocol.h for
 * the C side (a test fails when the checked-in header differs).
 *
 * Framing, every integer little-endian: `u32 length` (bytes after this field), `u16 type`,
 * `u32 request id`, then the body, whose fields follow in the declared order. `str` is a u32 byte
 * length and UTF-8 bytes (no NUL), `bytes` a u32 length and bytes, `list` a u32 count and the items.
 *
 * Every request from the layer carries a nonzero id, and the proxy answers with the same id. Ids
 * are per connection. Messages with id 0 are one-way (LOG). After an OPEN_FILE_OK with err 0 the
 * proxy writes exactly `size` raw bytes of file contents on the socket, outside any frame.
 *
 * New messages only ever go at the end, with a new number.
 */

/** The environment variable that holds the proxy's socket path. Read by the layer's constructor. */
export const LAYER_SOCKET_ENV = 'KUBECTL_MIRRORD_LAYER_SOCKET';

/**
 * Reserved: the layer receives its whole configuration in HELLO_OK, so this variable carries
 * nothing the layer needs. It is still a control variable: exec hooks put it back into an `envp`
 * that lacks it, when the process had it.
 */
export const LAYER_CONFIG_ENV = 'KUBECTL_MIRRORD_LAYER_CONFIG';

/** The loader's variable that names the layer; exec hooks restore it too. */
export const LAYER_PRELOAD_ENV = 'LD_PRELOAD';

/** Bytes before the body: length u32, type u16, id u32. */
export const LAYER_HEADER_SIZE = 10;

/** Largest frame (the value of the length field). File contents never travel in frames. */
export const LAYER_MAX_FRAME = 64 * 1024 * 1024;

/** Length of the token the layer writes on a relayed TCP connection (u64, little-endian). */
export const LAYER_TOKEN_BYTES = 8;

/** Bits of HELLO_OK's `flags`. */
export const LayerFlag = {
  /** Remote paths (the mounts, /etc/resolv.conf, ...) are read from the target. */
  remoteFs: 0x01,
  /** Name lookups resolve through the agent. */
  remoteDns: 0x02,
  /** TCP connects leave from the pod. */
  outgoingTcp: 0x04,
  /** UDP leaves from the pod. */
  outgoingUdp: 0x08,
  /** Loopback destinations always stay on the user's machine. */
  outgoingIgnoreLocalhost: 0x10,
  /** This process passes everything through (a build tool, a skipped process). */
  skip: 0x20,
  /** Incoming traffic is on (mode mirror or steal): TCP binds ask INCOMING_BIND. */
  incoming: 0x40,
} as const;
export type LayerFlag = (typeof LayerFlag)[keyof typeof LayerFlag];

/** HELLO_OK's `fs_mode`, as mirrord's `feature.fs.mode`. */
export const LayerFsMode = {
  local: 0,
  read: 1,
  localWithOverrides: 2,
} as const;
export type LayerFsMode = (typeof LayerFsMode)[keyof typeof LayerFsMode];

/** LOG's `level`. Warn lines the user must see once go to stderr as `kubectl-mirrord: ...`. */
export const LayerLogLevel = {
  debug: 0,
  info: 1,
  warn: 2,
} as const;
export type LayerLogLevel = (typeof LayerLogLevel)[keyof typeof LayerLogLevel];

/** CONNECT's `proto`: IP protocol numbers. */
export const LayerProto = {
  tcp: 6,
  udp: 17,
} as const;
export type LayerProto = (typeof LayerProto)[keyof typeof LayerProto];

/** Address families on the link (not the kernel's AF_* numbers). */
export const LayerFamily = {
  ipv4: 4,
  ipv6: 6,
} as const;
export type LayerFamily = (typeof LayerFamily)[keyof typeof LayerFamily];

/** HELLO_OK's `outgoing_filter_side` / `dns_filter_side`: mirrord's `{ remote }` or `{ local }`. */
export const LayerFilterSide = {
  /** No filter: every destination (lookup) the feature covers goes through the pod. */
  none: 0,
  /** Only matching traffic (lookups) goes through the pod; the rest stays on the user's machine. */
  remote: 1,
  /** Matching traffic (lookups) stays on the user's machine; the rest goes through the pod. */
  local: 2,
} as const;
export type LayerFilterSide = (typeof LayerFilterSide)[keyof typeof LayerFilterSide];

/** A netFilter item's `kind`: what it matches, besides its port (0 = any port). */
export const LayerFilterKind = {
  /** Any address. */
  port: 0,
  /** One address (`family`, `addr`); the unspecified address matches any. */
  address: 1,
  /** `addr`/`prefix` in `family`. */
  subnet: 2,
  /** A destination whose address the program got by resolving `name` (lowercase, no final dot). */
  name: 3,
} as const;
export type LayerFilterKind = (typeof LayerFilterKind)[keyof typeof LayerFilterKind];

/** A netFilter item's `proto`. */
export const LayerFilterProto = {
  any: 0,
  tcp: LayerProto.tcp,
  udp: LayerProto.udp,
} as const;
export type LayerFilterProto = (typeof LayerFilterProto)[keyof typeof LayerFilterProto];

/** Scalar and variable-length field types. */
export type LayerScalar = 'u8' | 'u16' | 'u32' | 'u64' | 'i32' | 'i64' | 'str' | 'bytes';
/** A list of a declared struct (see LayerStructs). */
export interface LayerListType {
  readonly list: LayerStructName;
}
export type LayerFieldType = LayerScalar | LayerListType;
export type LayerField = readonly [name: string, type: LayerFieldType];

/** Structs that appear as list items. */
export const LayerStructs = {
  pattern: [['pattern', 'str']],
  dirEntry: [['name', 'str'], ['type', 'u8'], ['ino', 'u64']],
  address: [['family', 'u8'], ['addr', 'bytes']],
  /** One filter entry; `family` and `addr` (4 or 16 bytes) only for address and subnet kinds. */
  netFilter: [['kind', 'u8'], ['proto', 'u8'], ['family', 'u8'], ['addr', 'bytes'], ['prefix', 'u8'], ['port', 'u16'], ['name', 'str']],
} as const satisfies Record<string, readonly LayerField[]>;
export type LayerStructName = keyof typeof LayerStructs;

/** The stat fields STAT_OK and OPEN_FILE_OK carry after `err`. Times are seconds and nanoseconds. */
const statFields = [
  ['err', 'i32'],
  ['mode', 'u32'],
  ['uid', 'u32'],
  ['gid', 'u32'],
  ['size', 'u64'],
  ['nlink', 'u64'],
  ['ino', 'u64'],
  ['dev', 'u64'],
  ['rdev', 'u64'],
  ['blksize', 'u32'],
  ['blocks', 'u64'],
  ['atime_s', 'i64'],
  ['atime_ns', 'u32'],
  ['mtime_s', 'i64'],
  ['mtime_ns', 'u32'],
  ['ctime_s', 'i64'],
  ['ctime_ns', 'u32'],
] as const;

/**
 * Every message: its type number, its direction, and its body fields in wire order.
 * `err` fields are 0 or a positive errno as Linux numbers it; `eai` fields 0 or an EAI_* value as
 * glibc defines them (negative).
 */
export const LayerMessages = {
  /** layer → proxy, first message of a connection. */
  hello: { type: 1, direction: 'layer → proxy', fields: [['pid', 'u32'], ['ppid', 'u32'], ['exe', 'str'], ['argv0', 'str']] },
  /**
   * proxy → layer. The layer's whole configuration. Path rules are anchored POSIX extended
   * regexes; the layer tries not_found (ENOENT), then local, then remote, else local. The
   * filters are mirrord's outgoing and DNS filters, already checked (LayerFilterSide).
   */
  helloOk: {
    type: 2,
    direction: 'proxy → layer',
    fields: [
      ['flags', 'u32'],
      ['fs_mode', 'u8'],
      ['max_file_bytes', 'u64'],
      ['remote_paths', { list: 'pattern' }],
      ['local_paths', { list: 'pattern' }],
      ['not_found_paths', { list: 'pattern' }],
      ['connect_timeout_ms', 'u32'],
      ['outgoing_filter_side', 'u8'],
      ['outgoing_filter', { list: 'netFilter' }],
      ['dns_filter_side', 'u8'],
      ['dns_filter', { list: 'netFilter' }],
    ],
  },
  /** layer → proxy. `follow` 1 for stat, 0 for lstat. */
  stat: { type: 3, direction: 'layer → proxy', fields: [['path', 'str'], ['follow', 'u8']] },
  /** proxy → layer. */
  statOk: { type: 4, direction: 'proxy → layer', fields: statFields },
  /** layer → proxy. `flags` are the open(2) flags the program passed. */
  openFile: { type: 5, direction: 'layer → proxy', fields: [['path', 'str'], ['flags', 'u32']] },
  /** proxy → layer. With err 0, exactly `size` raw bytes of contents follow the frame. */
  openFileOk: { type: 6, direction: 'proxy → layer', fields: statFields },
  /** layer → proxy. */
  readdir: { type: 7, direction: 'layer → proxy', fields: [['path', 'str']] },
  /** proxy → layer. `type` of an entry is a DT_* value. */
  readdirOk: { type: 8, direction: 'proxy → layer', fields: [['err', 'i32'], ['entries', { list: 'dirEntry' }]] },
  /** layer → proxy. */
  readlink: { type: 9, direction: 'layer → proxy', fields: [['path', 'str']] },
  /** proxy → layer. */
  readlinkOk: { type: 10, direction: 'proxy → layer', fields: [['err', 'i32'], ['target', 'str']] },
  /** layer → proxy. `mode` is access(2)'s F_OK/R_OK/W_OK/X_OK bits. */
  access: { type: 11, direction: 'layer → proxy', fields: [['path', 'str'], ['mode', 'u32']] },
  /** proxy → layer. */
  accessOk: { type: 12, direction: 'proxy → layer', fields: [['err', 'i32']] },
  /** layer → proxy. family/socktype/protocol/flags are the caller's hints, in the kernel's numbers. */
  getaddrinfo: {
    type: 13,
    direction: 'layer → proxy',
    fields: [['host', 'str'], ['family', 'i32'], ['socktype', 'i32'], ['protocol', 'i32'], ['flags', 'i32']],
  },
  /** proxy → layer. The layer builds the addrinfo list itself. */
  getaddrinfoOk: {
    type: 14,
    direction: 'proxy → layer',
    fields: [['eai', 'i32'], ['canonname', 'str'], ['addrs', { list: 'address' }]],
  },
  /** layer → proxy. A reverse lookup. `addr` is 4 or 16 bytes. */
  getnameinfo: { type: 15, direction: 'layer → proxy', fields: [['family', 'u8'], ['addr', 'bytes']] },
  /** proxy → layer. */
  getnameinfoOk: { type: 16, direction: 'proxy → layer', fields: [['eai', 'i32'], ['host', 'str']] },
  /** layer → proxy. Opens a TCP stream (answered after the agent's OPEN_OK) or a UDP relay. */
  connect: {
    type: 17,
    direction: 'layer → proxy',
    fields: [['proto', 'u8'], ['family', 'u8'], ['addr', 'bytes'], ['port', 'u16']],
  },
  /**
   * proxy → layer. `relay_port` is on 127.0.0.1. TCP: the layer connects there and writes the
   * token (LAYER_TOKEN_BYTES, little-endian). UDP: no token. local_* is the pod-side address (may
   * be zero).
   */
  connectOk: {
    type: 18,
    direction: 'proxy → layer',
    fields: [
      ['err', 'i32'],
      ['token', 'u64'],
      ['relay_port', 'u16'],
      ['local_family', 'u8'],
      ['local_addr', 'bytes'],
      ['local_port', 'u16'],
    ],
  },
  /** layer → proxy, id 0, one-way. */
  log: { type: 19, direction: 'layer → proxy', fields: [['level', 'u8'], ['message', 'str']] },
  /** proxy → layer. The answer to any request the proxy cannot decode or serve. */
  error: { type: 20, direction: 'proxy → layer', fields: [['err', 'i32'], ['message', 'str']] },
  /**
   * layer → proxy. A TCP socket binds `port` (nonzero) on `addr` (4 or 16 bytes). The proxy applies
   * the port rules (ports, ignore_ports, ignore_localhost, listen_ports, port_mapping).
   */
  incomingBind: { type: 21, direction: 'layer → proxy', fields: [['family', 'u8'], ['addr', 'bytes'], ['port', 'u16']] },
  /**
   * proxy → layer. `listener` 0: the bind is the user's machine's alone. Otherwise the layer binds
   * `listen_port` (else, when it is in use, a free port on loopback) and reports `listener` in
   * INCOMING_LISTEN, INCOMING_HOLD and INCOMING_CLOSE.
   */
  incomingBindOk: { type: 22, direction: 'proxy → layer', fields: [['listener', 'u32'], ['listen_port', 'u16']] },
  /**
   * layer → proxy. The socket of `listener` listens, really on addr:port (what getsockname says).
   * This process now holds the listener; the proxy subscribes its remote port before answering.
   */
  incomingListen: { type: 23, direction: 'layer → proxy', fields: [['listener', 'u32'], ['family', 'u8'], ['addr', 'bytes'], ['port', 'u16']] },
  /** proxy → layer. `err` 0 when subscribed; otherwise the port stays local (the proxy said why). */
  incomingListenOk: { type: 24, direction: 'proxy → layer', fields: [['err', 'i32']] },
  /** layer → proxy, one-way. A forked child holds the listeners it inherited (one message each). */
  incomingHold: { type: 25, direction: 'layer → proxy', fields: [['listener', 'u32']] },
  /** layer → proxy, one-way. This process closed its last fd of `listener`. */
  incomingClose: { type: 26, direction: 'layer → proxy', fields: [['listener', 'u32']] },
  /**
   * layer → proxy. An accepted socket's peer is addr:port on loopback: is it a connection the
   * proxy delivered? The proxy knows its own end's port from the moment it connects.
   */
  incomingPeer: { type: 27, direction: 'layer → proxy', fields: [['family', 'u8'], ['addr', 'bytes'], ['port', 'u16']] },
  /** proxy → layer. `found` 1: the original client, as the pod saw it (family 0 otherwise). */
  incomingPeerOk: { type: 28, direction: 'proxy → layer', fields: [['found', 'u8'], ['family', 'u8'], ['addr', 'bytes'], ['port', 'u16']] },
} as const satisfies Record<string, { type: number; direction: string; fields: readonly LayerField[] }>;

export type LayerMessageName = keyof typeof LayerMessages;

/** Type number by message name. */
export const LayerMessageType = Object.fromEntries(
  Object.entries(LayerMessages).map(([name, m]) => [name, m.type]),
) as { readonly [K in LayerMessageName]: (typeof LayerMessages)[K]['type'] };

/** The TS value of one field type: 64-bit integers are bigint, so tokens and inodes stay exact. */
export type LayerFieldValue<T> = T extends 'u8' | 'u16' | 'u32' | 'i32'
  ? number
  : T extends 'u64' | 'i64'
    ? bigint
    : T extends 'str'
      ? string
      : T extends 'bytes'
        ? Uint8Array
        : T extends { readonly list: infer S extends LayerStructName }
          ? LayerBody<(typeof LayerStructs)[S]>[]
          : never;

/** The object a field list describes. */
export type LayerBody<F extends readonly LayerField[]> = {
  [P in F[number] as P[0]]: LayerFieldValue<P[1]>;
};

/** The body of one message, by name. */
export type LayerMessageBody<K extends LayerMessageName> = LayerBody<(typeof LayerMessages)[K]['fields']>;

/** One decoded message. */
export type LayerMessage = {
  [K in LayerMessageName]: { name: K; id: number; body: LayerMessageBody<K> };
}[LayerMessageName];

/** The stat fields of STAT_OK / OPEN_FILE_OK. */
export type LayerStat = LayerMessageBody<'statOk'>;
