/**
 * What a stream and its session see of each other. Both kinds of stream (MuxStream for bytes,
 * DatagramStream for datagrams) implement SessionStream; the Session implements StreamHost.
 * Streams never touch the transport.
 */
import type { ResetReason } from '../protocol/constants.ts';
import type { Destination } from '../protocol/address.ts';
import type { Open, OpenOk } from '../protocol/frames.ts';
import type { DataSource } from './writer.ts';
import type { SendBudget } from './send-budget.ts';

/** What a stream needs from its session. */
export interface StreamHost {
  /** What all the session's byte streams may queue for sending, together. */
  readonly sendBudget: SendBudget;
  /** `batch`: the stream can wait for the end of this event-loop turn (see FrameWriter.wake). */
  wake(stream: SessionStream, batch?: boolean): void;
  dataHeader(streamId: number, length: number, fin: boolean): Buffer;
  sendWindowUpdate(streamId: number, increment: number): void;
  sendOpenOk(streamId: number, window: number, peer?: Destination): void;
  sendReset(streamId: number, reason: ResetReason, message: string): void;
  /** The stream is finished in both directions or reset: forget it. */
  release(stream: SessionStream): void;
}

/** What the session calls on a stream, whatever its transport. */
export interface SessionStream extends DataSource {
  readonly id: number;
  /** What the OPEN frame said: destination, transport, source. */
  readonly open: Open;
  /** The current receive window, in bytes. */
  readonly receiveWindow: number;
  onOpenOk(ok: OpenOk): void;
  /**
   * A DATA frame of `length` bytes is about to arrive. Returns false on a window violation; may
   * throw a ProtocolError for a frame the stream cannot take at all.
   */
  onDataStart(length: number): boolean;
  onData(piece: Buffer): void;
  /** The DATA frame announced by onDataStart is complete; `fin` if it carried the FIN flag. */
  onDataEnd(fin: boolean): void;
  onWindowUpdate(increment: number): void;
  onReset(reason: ResetReason, message: string): void;
  onSessionClosed(err: Error | undefined): void;
}
