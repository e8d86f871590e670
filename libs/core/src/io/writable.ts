import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../errors/oodkit-error.js';

/**
 * Checks, before any work starts, that `dir` is (or can be created as) a writable folder, so a bad
 * output or cache location fails in one line naming where it came from (`what`: an option such as
 * `--out`, a config key with its file:line, or an environment variable) instead of a raw
 * EACCES/EEXIST/ENOTDIR trace after minutes of work. Creates nothing: the nearest existing ancestor must
 * be a writable folder (and `dir` itself, when it exists, a folder).
 */
export function assertWritableDir(dir: string, what: string): void {
  const target = resolve(dir);
  let probe = target;
  for (;;) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(probe).isDirectory();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const parent = dirname(probe);
      if ((code === 'ENOENT' || code === 'ENOTDIR') && parent !== probe) {
        probe = parent;
        continue;
      }
      throw new UsageError(`${what}: cannot use '${target}' as an output folder (${code ?? String(error)} on '${probe}')`);
    }
    if (!isDirectory) {
      throw new UsageError(
        probe === target
          ? `${what}: '${target}' is a file, expected a folder`
          : `${what}: cannot create '${target}': '${probe}' is a file, not a folder`,
      );
    }
    try {
      accessSync(probe, constants.W_OK | constants.X_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason = code === 'EROFS' ? 'is on a read-only file system' : 'is not writable';
      throw new UsageError(`${what}: '${probe}' ${reason}${probe === target ? '' : `, so '${target}' cannot be created there`}`);
    }
    return;
  }
}
