/**
 * Whether something in the pod listens on a TCP port. The agent shares the pod's network
 * namespace, and /proc/net/tcp and /proc/net/tcp6 list that namespace's sockets (proc(5)): the
 * local address is `HEXIP:HEXPORT` and state 0A is TCP_LISTEN.
 */
import { readFile } from 'node:fs/promises';

const TCP_LISTEN = '0A';
const TABLES = ['/proc/net/tcp', '/proc/net/tcp6'];

/** The listening TCP ports found in the text of a /proc/net/tcp{,6} table. */
export function listeningPorts(table: string): Set<number> {
  const ports = new Set<number>();
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    // fields: sl, local_address, rem_address, st, ...
    if (fields.length < 4 || fields[3] !== TCP_LISTEN) continue;
    const port = parseInt(fields[1].split(':')[1] ?? '', 16);
    if (Number.isInteger(port)) ports.add(port);
  }
  return ports;
}

/** True when some socket in this network namespace listens on TCP `port`, on any address. */
export async function isListening(port: number, tables: string[] = TABLES): Promise<boolean> {
  for (const path of tables) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      continue; // no IPv6 in this kernel or namespace
    }
    if (listeningPorts(text).has(port)) return true;
  }
  return false;
}
