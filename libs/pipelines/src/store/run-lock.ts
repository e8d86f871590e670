import { mkdirSync } from 'node:fs';
import lockfile from 'proper-lockfile';
import { OodkitError, silentLogger, type Logger } from '@oodkit/core';

export class RunLockedError extends OodkitError {}

/**
 * Exclusive use of a results folder: a second run on the same folder is refused instead of
 * interleaving writes. The lock is refreshed while held and counts as stale 5 minutes after a crash
 * (long enough that a busy event loop never loses it). Losing it mid-run (someone deleted the folder's
 * lock) is reported, not fatal: every product is still written atomically.
 */
export async function lockResultsDir(dir: string, logger: Logger = silentLogger): Promise<() => Promise<void>> {
  mkdirSync(dir, { recursive: true });
  try {
    return await lockfile.lock(dir, {
      stale: 300_000,
      update: 30_000,
      lockfilePath: `${dir}/.oodkit.lock`,
      realpath: false,
      onCompromised: (error) =>
        logger.warn(`lost the lock on ${dir} (${error.message}); continuing — do not start a second run on this folder`),
    });
  } catch (error) {
    if ((error as { code?: string }).code === 'ELOCKED') {
      throw new RunLockedError(
        `results folder '${dir}' is in use by another oodkit run; wait for it to finish or choose another --output_dir`,
      );
    }
    throw error;
  }
}
