import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { LockedError, UsageError, acquireLock, cleanInterruptedWrites, silentLogger, type Logger } from '@oodkit/core';

/** What every command that writes a run folder accepts (`--resume`, `--overwrite`). */
export interface RunFolderFlags {
  /** Continue the run the folder holds (training from its last checkpoint). */
  readonly resume?: boolean;
  /** Move the existing folder aside (`<dir>.replaced-<UTC time>`) and start over; nothing is deleted. */
  readonly overwrite?: boolean;
}

/** A results folder held by another live process. */
export const RunLockedError = LockedError;
export type RunLockedError = LockedError;

/** The folder already holds results and neither resume nor overwrite was asked for. */
export class RunFolderExistsError extends UsageError {}

/**
 * The lock of a folder lives beside it (`<parent>/.<name>.lock`), not inside: `--overwrite` moves
 * the folder away while the lock stays held, and a folder's lock can be taken before the folder exists.
 */
export function lockPathFor(dir: string): string {
  return join(dirname(dir), `.${basename(dir)}.lock`);
}

/** `<dir>.replaced-20250102T030405Z` (with -2, -3 ... if that name is taken). */
export function moveAside(dir: string): string {
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  let target = `${dir}.replaced-${stamp}`;
  for (let k = 2; existsSync(target); k++) target = `${dir}.replaced-${stamp}-${k}`;
  renameSync(dir, target);
  return target;
}

export interface OpenRunFolderOptions extends RunFolderFlags {
  /** What the folder holds, for messages: "training run", "benchmark results", "feature folder". */
  readonly what: string;
  readonly logger?: Logger;
  /**
   * Continue a non-empty folder without `resume` (the benchmark: its folder is named by the config
   * hash and every product is cached by hash, so continuing can only recompute what is missing).
   */
  readonly continueExisting?: boolean;
}

export interface RunFolder {
  readonly dir: string;
  /** It held results before this run (and is continued). */
  readonly existed: boolean;
  /** Where `overwrite` moved the previous folder. */
  readonly replaced?: string;
  release(): Promise<void>;
}

function hasContent(dir: string): boolean {
  if (!existsSync(dir)) return false;
  if (!statSync(dir).isDirectory()) throw new UsageError(`'${dir}' exists and is not a folder; choose another output folder`);
  return readdirSync(dir).length > 0;
}

/**
 * Takes the folder's lock, then applies the rule every run-folder writer follows: an empty or new
 * folder is used; a folder with content is continued only with `resume` (or `continueExisting`),
 * replaced only with `overwrite` — and then moved aside, never deleted — and refused otherwise.
 * Temp files of interrupted atomic writes by dead processes are removed (we hold the lock, so no
 * live writer can own them). The caller releases the folder when done.
 */
export async function openRunFolder(dir: string, options: OpenRunFolderOptions): Promise<RunFolder> {
  const logger = options.logger ?? silentLogger;
  if (options.resume && options.overwrite)
    throw new UsageError('--resume and --overwrite exclude each other: continue the run or start it over');
  const lock = await acquireLock(lockPathFor(dir), { purpose: `${options.what} folder '${dir}'`, logger });
  try {
    const removed = cleanInterruptedWrites(dir);
    if (removed.length > 0)
      logger.info(`removed ${removed.length} temp file(s) of interrupted writes in ${dir}: ${removed.map((p) => basename(p)).join(', ')}`);
    let existed = hasContent(dir);
    let replaced: string | undefined;
    if (existed && options.overwrite) {
      replaced = moveAside(dir);
      existed = false;
      logger.warn(`moved the existing ${options.what} folder aside: ${dir} → ${replaced}`);
    } else if (existed && !options.resume && !options.continueExisting) {
      throw new RunFolderExistsError(
        `${options.what} folder '${dir}' already holds results; pass --resume to continue it, or --overwrite to move it aside ` +
          `(to ${basename(dir)}.replaced-<UTC time>) and start over`,
      );
    }
    mkdirSync(dir, { recursive: true });
    return { dir, existed, ...(replaced ? { replaced } : {}), release: () => lock.release() };
  } catch (error) {
    await lock.release();
    throw error;
  }
}

/** {@link openRunFolder} around `use`, released however `use` ends. */
export async function withRunFolder<T>(dir: string, options: OpenRunFolderOptions, use: (folder: RunFolder) => Promise<T>): Promise<T> {
  const folder = await openRunFolder(dir, options);
  try {
    return await use(folder);
  } finally {
    await folder.release().catch((error: Error) => options.logger?.warn(`releasing the lock of ${dir}: ${error.message}`));
  }
}

/** Exclusive use of a folder without the overwrite rule (kept for callers that only need the lock). */
export async function lockResultsDir(dir: string, logger: Logger = silentLogger): Promise<() => Promise<void>> {
  const lock = await acquireLock(lockPathFor(dir), { purpose: `results folder '${dir}'`, logger });
  return () => lock.release();
}
