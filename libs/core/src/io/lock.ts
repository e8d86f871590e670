import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { OodkitError } from '../errors/oodkit-error.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import { currentProcess, parseWriterTag, processLiveness, writerTag, type ProcessIdentity } from './process-identity.js';

/** What a lock records about its holder (`<lock>/owner.json`). */
export interface LockOwner extends ProcessIdentity {
  /** Unique per acquisition: a take-over checks it so it never removes a lock taken meanwhile. */
  readonly token: string;
  /** What holds it, for messages: e.g. "training run /x/y". */
  readonly purpose: string;
  readonly command: string;
  readonly acquiredAt: string;
}

export class LockedError extends OodkitError {
  constructor(
    message: string,
    readonly lockPath: string,
    readonly owner: LockOwner | null,
  ) {
    super(message);
  }
}

export interface LockOptions {
  /** Shown to a second process that finds the lock held. */
  readonly purpose?: string;
  /**
   * A lock whose owner runs on another host (a shared filesystem) is stale after this long without
   * a heartbeat. Owners on this host are judged by their process instead, at once.
   */
  readonly staleMs?: number;
  /** Heartbeat interval (refreshes owner.json's mtime). */
  readonly refreshMs?: number;
  readonly logger?: Logger;
  /** Called once if the lock is found taken away while held (someone removed or took it over). */
  readonly onCompromised?: (reason: string) => void;
}

export interface Lock {
  readonly path: string;
  readonly owner: LockOwner;
  /** True once the heartbeat found the lock no longer ours. */
  readonly compromised: boolean;
  /** Releases the lock (a no-op the second time, or when it is no longer ours). */
  release(): Promise<void>;
}

const OWNER_FILE = 'owner.json';
const DEFAULT_STALE_MS = 300_000;
const DEFAULT_REFRESH_MS = 30_000;
/** Take-overs and races retried before giving up (each retry follows a lost race, not a wait). */
const MAX_ATTEMPTS = 8;

export function readLockOwner(path: string): LockOwner | null {
  try {
    return JSON.parse(readFileSync(join(path, OWNER_FILE), 'utf8')) as LockOwner;
  } catch {
    return null;
  }
}

/** mtime of the owner file (the heartbeat), else of the lock folder; undefined when it is gone. */
function heartbeatOf(path: string): number | undefined {
  for (const p of [join(path, OWNER_FILE), path]) {
    try {
      return statSync(p).mtimeMs;
    } catch {
      // try the next
    }
  }
  return undefined;
}

function describeOwner(owner: LockOwner): string {
  return `pid ${owner.pid} on ${owner.host}, since ${owner.acquiredAt}${owner.command ? `: ${owner.command}` : ''}`;
}

/** Why a held lock may be taken over, or undefined while its owner may still be working. */
function staleReason(owner: LockOwner | null, heartbeat: number, staleMs: number): string | undefined {
  const age = Date.now() - heartbeat;
  if (owner === null) {
    // No readable owner record (not written by this code, or damaged): only age can tell.
    return age > staleMs ? `it has no owner record and no heartbeat for ${Math.round(age / 1000)} s` : undefined;
  }
  const liveness = processLiveness(owner);
  if (liveness === 'dead') return `its owner (${describeOwner(owner)}) is no longer running`;
  if (liveness === 'unknown' && age > staleMs)
    return `its owner (${describeOwner(owner)}) on another host sent no heartbeat for ${Math.round(age / 1000)} s`;
  return undefined;
}

function isHeldError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOTEMPTY' || code === 'EEXIST';
}

/**
 * Leftovers of lock operations of dead processes beside the lock (`<lock>.<writer tag>.<rand>.tmp`,
 * `.stale`, `.released` folders: a kill between steps of acquire, take-over or release).
 */
function removeDeadLeftovers(path: string): void {
  const folder = dirname(path);
  const prefix = `${basename(path)}.`;
  const me = currentProcess();
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const match = /^(\d+-[tm][0-9a-z]+)\.[0-9a-f]+\.(tmp|stale|released)$/.exec(name.slice(prefix.length));
    const writer = match ? parseWriterTag(match[1]!) : undefined;
    if (!writer || processLiveness({ ...writer, host: me.host }) !== 'dead') continue;
    rmSync(join(folder, name), { recursive: true, force: true });
  }
}

/**
 * An exclusive lock at `path` (a folder holding owner.json), usable on local and shared (NFS)
 * filesystems: it appears by one atomic rename of a prepared folder, so it never exists without its
 * owner record. A lock held by a process that no longer runs on this host is taken over at once
 * (logged); one held from another host only after `staleMs` without a heartbeat. A take-over moves
 * the stale lock aside and checks it moved the lock it judged, so two processes taking over one
 * lock at once cannot both win. Throws {@link LockedError} while the holder is alive.
 */
export async function acquireLock(path: string, options: LockOptions = {}): Promise<Lock> {
  const logger = options.logger ?? silentLogger;
  const staleMs = options.staleMs ?? DEFAULT_STALE_MS;
  const me = currentProcess();
  const token = `${writerTag(me)}.${randomBytes(6).toString('hex')}`;
  const owner: LockOwner = {
    ...me,
    token,
    purpose: options.purpose ?? path,
    command: process.argv.slice(1).join(' ').slice(0, 500),
    acquiredAt: new Date().toISOString(),
  };
  mkdirSync(dirname(path), { recursive: true });
  removeDeadLeftovers(path);
  const prepared = `${path}.${token}.tmp`;
  mkdirSync(prepared);
  writeFileSync(join(prepared, OWNER_FILE), `${JSON.stringify(owner, null, 2)}\n`);
  try {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      try {
        renameSync(prepared, path);
        return holdLock(path, owner, options, logger);
      } catch (error) {
        if (!isHeldError(error)) throw error;
      }
      const holder = readLockOwner(path);
      const heartbeat = heartbeatOf(path);
      if (heartbeat === undefined) continue; // released meanwhile: try again
      const reason = staleReason(holder, heartbeat, staleMs);
      if (reason === undefined) {
        throw new LockedError(
          `${options.purpose ?? path} is in use by another oodkit process${holder ? ` (${describeOwner(holder)})` : ''}; ` +
            `wait for it to finish or write elsewhere (lock: ${path})`,
          path,
          holder,
        );
      }
      if (takeOver(path, holder, token)) logger.warn(`took over the lock ${path}: ${reason}`);
    }
    throw new LockedError(
      `could not acquire ${path}: other processes kept taking it (${MAX_ATTEMPTS} attempts)`,
      path,
      readLockOwner(path),
    );
  } finally {
    rmSync(prepared, { recursive: true, force: true });
  }
}

/**
 * Moves the stale lock aside and removes it; true when the lock moved was the one judged stale. If
 * another process took the lock over between our check and our move, its fresh lock is put back.
 */
function takeOver(path: string, judged: LockOwner | null, token: string): boolean {
  const grave = `${path}.${token}.stale`;
  try {
    renameSync(path, grave);
  } catch {
    return false; // someone else moved it first
  }
  const moved = readLockOwner(grave);
  if ((moved?.token ?? null) !== (judged?.token ?? null)) {
    try {
      renameSync(grave, path);
      return false;
    } catch {
      // A third process locked meanwhile; the one we displaced sees its lock gone at its next heartbeat.
    }
  }
  rmSync(grave, { recursive: true, force: true });
  return true;
}

function holdLock(path: string, owner: LockOwner, options: LockOptions, logger: Logger): Lock {
  let released = false;
  let compromised = false;
  const ours = () => readLockOwner(path)?.token === owner.token;
  const compromise = (reason: string) => {
    if (compromised) return;
    compromised = true;
    clearInterval(timer);
    if (options.onCompromised) options.onCompromised(reason);
    else logger.warn(`lost the lock ${path} (${reason}); another process may write here now`);
  };
  const timer = setInterval(() => {
    if (!ours()) return compromise('it was removed or taken over');
    const now = new Date();
    try {
      utimesSync(join(path, OWNER_FILE), now, now);
    } catch (error) {
      compromise(`heartbeat failed: ${(error as Error).message}`);
    }
  }, options.refreshMs ?? DEFAULT_REFRESH_MS);
  timer.unref();
  return {
    path,
    owner,
    get compromised() {
      return compromised;
    },
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      if (!ours()) return;
      // Renamed away first, so the lock path disappears in one step even if removal is interrupted.
      const gone = `${path}.${owner.token}.released`;
      renameSync(path, gone);
      rmSync(gone, { recursive: true, force: true });
    },
  };
}
