import { mkdirSync } from 'node:fs';
import lockfile from 'proper-lockfile';
import { OodkitError } from '@oodkit/core';

export class RunLockedError extends OodkitError {}

/**
 * Exclusive use of a results folder: a second run on the same folder is refused instead of
 * interleaving writes. The lock is refreshed while held and goes stale 30 s after a crash.
 */
export async function lockResultsDir(dir: string): Promise<() => Promise<void>> {
  mkdirSync(dir, { recursive: true });
  try {
    return await lockfile.lock(dir, { stale: 30_000, update: 10_000, lockfilePath: `${dir}/.oodkit.lock`, realpath: false });
  } catch (error) {
    if ((error as { code?: string }).code === 'ELOCKED') {
      throw new RunLockedError(`results folder '${dir}' is in use by another oodkit run; wait for it to finish or choose another --output_dir`);
    }
    throw error;
  }
}
