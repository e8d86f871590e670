import { closeSync, fsyncSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { currentProcess, parseWriterTag, processLiveness, writerTag } from './process-identity.js';

/** Bytes or text to write; several chunks are written in order without concatenating them first. */
export type FileContent = string | Uint8Array | readonly Uint8Array[];

let tempCounter = 0;
/** Node refuses single writes over 2 GiB; big arrays go out in 1 GiB pieces. */
const IO_CHUNK = 1 << 30;

/**
 * A temp name in the target's own folder: rename is only atomic within one filesystem. The writer
 * tag (pid + process start time) and a per-process counter keep concurrent writers apart and let a
 * later run tell the leftovers of a killed writer from a write in progress
 * ({@link cleanInterruptedWrites}): `.<name>.<pid>-<start>.<n>.tmp`.
 */
function tempPathFor(path: string): string {
  tempCounter += 1;
  return join(dirname(path), `.${basename(path)}.${writerTag()}.${tempCounter}.tmp`);
}

/** `.<name>.<pid>-<start>.<n>.tmp`, and the older `.<name>.<pid>.<n>.tmp` (no start time). */
const TEMP_NAME = /^\..+\.(\d+(?:-[tm][0-9a-z]+)?)\.\d+\.tmp$/;

/**
 * Removes the temp files that atomic writes of dead processes left under `dir` (a kill between
 * writing and renaming leaves one behind). Only files whose writer is certainly gone are removed:
 * on this host its pid no longer runs, or runs as a later process. Call it while holding the
 * folder's lock, so no other host writes there. Returns the removed paths.
 */
export function cleanInterruptedWrites(dir: string, options: { recursive?: boolean } = {}): string[] {
  const removed: string[] = [];
  const me = currentProcess();
  const ownTag = writerTag(me);
  const visit = (folder: string) => {
    let entries;
    try {
      entries = readdirSync(folder, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) {
        if (options.recursive ?? true) visit(path);
        continue;
      }
      const match = TEMP_NAME.exec(entry.name);
      if (!match || !entry.isFile() || match[1] === ownTag) continue;
      const tag = match[1]!;
      const writer = tag.includes('-') ? parseWriterTag(tag) : { pid: Number(tag), start: undefined };
      if (!writer) continue;
      if (processLiveness({ pid: writer.pid, host: me.host, ...(writer.start ? { start: writer.start } : {}) }) !== 'dead') continue;
      try {
        unlinkSync(path);
        removed.push(path);
      } catch {
        // gone meanwhile
      }
    }
  };
  visit(dir);
  return removed;
}

function chunksOf(content: FileContent): readonly Uint8Array[] {
  if (typeof content === 'string') return [Buffer.from(content, 'utf8')];
  if (content instanceof Uint8Array) return [content];
  return content;
}

/**
 * Write `content` to `path` so that readers see either the old file or the complete new one, never a
 * partial write: temp file in the same folder, fsync, then rename over the target.
 */
export async function writeFileAtomic(path: string, content: FileContent): Promise<void> {
  const temp = tempPathFor(path);
  const handle = await open(temp, 'w');
  try {
    for (const chunk of chunksOf(content)) {
      let offset = 0;
      while (offset < chunk.byteLength) {
        const { bytesWritten } = await handle.write(chunk, offset, Math.min(chunk.byteLength - offset, IO_CHUNK));
        offset += bytesWritten;
      }
    }
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}

/** Synchronous twin of {@link writeFileAtomic}, for exit paths and small metadata files. */
export function writeFileAtomicSync(path: string, content: FileContent): void {
  const temp = tempPathFor(path);
  const fd = openSync(temp, 'w');
  try {
    for (const chunk of chunksOf(content)) {
      let offset = 0;
      while (offset < chunk.byteLength) offset += writeSync(fd, chunk, offset, Math.min(chunk.byteLength - offset, IO_CHUNK));
    }
    fsyncSync(fd);
    closeSync(fd);
  } catch (error) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    try {
      unlinkSync(temp);
    } catch {
      // nothing to clean
    }
    throw error;
  }
  try {
    renameSync(temp, path);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // nothing to clean
    }
    throw error;
  }
}
