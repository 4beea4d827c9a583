/** The answer when the agent has no target process: ENOTFOUND with the reason. */
import { RequestError, ResponseErrorCode } from '../src/protocol/request-errors.ts';
import { NoTargetError } from './target-process.ts';

/** Runs `find`, turning a NoTargetError into RequestError ENOTFOUND. */
export function targetFailure<T>(find: () => T): T {
  try {
    return find();
  } catch (err) {
    if (err instanceof NoTargetError) throw new RequestError(ResponseErrorCode.notFound, err.message);
    throw err;
  }
}
