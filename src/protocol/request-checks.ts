/**
 * Field checks shared by the request contracts (requests.ts, file-requests.ts): each throws a
 * RequestError naming the field and what would be accepted.
 */
import type { RequestOp } from './constants.ts';
import { RequestError, ResponseErrorCode } from './request-errors.ts';

/** Who sends the request. */
export type Direction = 'cli → agent' | 'agent → cli';

export interface RequestContract<Body, Answer> {
  readonly op: RequestOp;
  readonly name: keyof typeof RequestOp;
  readonly direction: Direction;
  /** The capability both sides must have agreed, or 0. */
  readonly capability: number;
  /** Field names of the body as the spec writes them (`family?` is optional). */
  readonly bodyFields: readonly string[];
  /** Field names of the answer, or null when the answer is `null`. */
  readonly answerFields: readonly string[] | null;
  /** Error codes the op may answer with, besides ENOTSUP, ESHUTDOWN and EINTERNAL. */
  readonly errors: readonly ResponseErrorCode[];
  /** Checks a received body. Throws RequestError EINVAL naming the field and what is accepted. */
  checkBody(raw: unknown): Body;
  /** Checks a received answer. Throws RequestError EBADANSWER naming what was wrong. */
  checkAnswer(raw: unknown): Answer;
}

export type Fail = (message: string) => never;

/** A received body is wrong: EINVAL. */
export const invalid: Fail = (message) => {
  throw new RequestError(ResponseErrorCode.invalid, message);
};

/** A received answer to `op` is wrong: EBADANSWER. */
export function badAnswer(op: string): Fail {
  return (message) => {
    throw new RequestError(ResponseErrorCode.badAnswer, `the answer to ${op} is not what the protocol says: ${message}`);
  };
}

export function record(raw: unknown, what: string, fail: Fail): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(`${what} must be an object, got ${JSON.stringify(raw)}`);
  return raw as Record<string, unknown>;
}

export function noOtherFields(obj: Record<string, unknown>, prefix: string, accepted: readonly string[], fail: Fail): void {
  const unknown = Object.keys(obj).filter((k) => !accepted.includes(k));
  if (unknown.length > 0) {
    fail(`${prefix} has unknown field ${unknown.map((k) => `${prefix}.${k}`).join(', ')}; accepted: ${accepted.join(', ')}`);
  }
}

export function isTcpPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;
}

export function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/** An unsigned 64-bit integer written as decimal digits (a JSON number loses bits above 2^53). */
export function isU64String(value: unknown): value is string {
  return typeof value === 'string' && /^(0|[1-9][0-9]{0,19})$/.test(value) && BigInt(value) < 1n << 64n;
}

/** The check of an answer that must be `null`. */
export function nullAnswer(op: string): (raw: unknown) => null {
  return (raw) => {
    if (raw !== null) badAnswer(op)(`the answer must be null, got ${JSON.stringify(raw)}`);
    return null;
  };
}
