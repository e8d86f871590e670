import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Bytes or text to write; several chunks are written in order without concatenating them first. */
export type FileContent = string | Uint8Array | readonly Uint8Array[];

let tempCounter = 0;
/** Node refuses single writes over 2 GiB; big arrays go out in 1 GiB pieces. */
const IO_CHUNK = 1 << 30;

/**
 * A temp name in the target's own folder: rename is only atomic within one filesystem. The pid and a
 * per-process counter keep concurrent writers (other processes, or parallel writes here) apart.
 */
function tempPathFor(path: string): string {
  tempCounter += 1;
  return join(dirname(path), `.${basename(path)}.${process.pid}.${tempCounter}.tmp`);
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
