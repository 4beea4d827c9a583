/**
 * Types for the parts of @mongodb-js/socksv5 that socks-server.ts loads directly (the package has no
 * types, and its index.js finds these files with readdirSync, which a bundle cannot follow).
 */
declare module '@mongodb-js/socksv5/lib/server.parser.js' {
  import type { EventEmitter } from 'node:events';
  import type { Socket } from 'node:net';
  /** RFC 1928 server-side parser: emits 'methods', 'request', 'error'. */
  const Parser: new (socket: Socket) => EventEmitter & { authed: boolean; start(): void; stop(): void };
  export default Parser;
}

declare module '@mongodb-js/socksv5/lib/auth/None.js' {
  import type { Socket } from 'node:net';
  const None: () => { METHOD: number; server(stream: Socket, done: (result: unknown) => void): void };
  export default None;
}

declare module '@mongodb-js/socksv5/lib/auth/UserPassword.js' {
  import type { Socket } from 'node:net';
  const UserPassword: (check: (user: string, password: string, done: (ok: boolean) => void) => void) =>
    { METHOD: number; server(stream: Socket, done: (result: unknown) => void): void };
  export default UserPassword;
}
