/**
 * The CLI's version, from package.json. Imported as JSON (not read from disk at run time) so a
 * bundled single executable carries it too.
 */
import pkg from '../../package.json' with { type: 'json' };

/** The version of this CLI, e.g. `0.1.0`. The default agent image tag is pinned to it. */
export const CLI_VERSION: string = pkg.version;
