import { open, type FileHandle } from 'node:fs/promises';
import { DataError } from '@oodkit/core';

/**
 * Fixed-size records addressed by index: the pixels of one image each. Implementations keep bytes
 * (a Buffer or the file itself), never JS number arrays.
 */
export interface RowStore {
  readonly count: number;
  readonly rowBytes: number;
  /** Copies the rows `indices` into `out` back to back. */
  readRows(indices: ArrayLike<number>, out: Uint8Array): Promise<void>;
  close?(): Promise<void>;
}

export class BufferRows implements RowStore {
  constructor(
    private readonly data: Uint8Array,
    readonly count: number,
    readonly rowBytes: number,
  ) {}

  readRows(indices: ArrayLike<number>, out: Uint8Array): Promise<void> {
    const { data, rowBytes } = this;
    for (let k = 0; k < indices.length; k++) {
      const start = indices[k] * rowBytes;
      out.set(data.subarray(start, start + rowBytes), k * rowBytes);
    }
    return Promise.resolve();
  }
}

/** Rows read from disk on demand with positioned reads; consecutive indices coalesce into one read. */
export class FileRows implements RowStore {
  private handle: Promise<FileHandle> | undefined;

  constructor(
    private readonly file: string,
    private readonly offset: number,
    readonly count: number,
    readonly rowBytes: number,
  ) {}

  async readRows(indices: ArrayLike<number>, out: Uint8Array): Promise<void> {
    this.handle ??= open(this.file, 'r');
    const fh = await this.handle;
    const reads: Promise<unknown>[] = [];
    let k = 0;
    while (k < indices.length) {
      let run = 1;
      while (k + run < indices.length && indices[k + run] === indices[k] + run) run++;
      const bytes = run * this.rowBytes;
      const position = this.offset + indices[k] * this.rowBytes;
      const target = out.subarray(k * this.rowBytes, k * this.rowBytes + bytes);
      reads.push(
        fh.read(target, 0, bytes, position).then(({ bytesRead }) => {
          if (bytesRead !== bytes)
            throw new DataError(`${this.file}: truncated at byte ${position + bytesRead} (wanted ${bytes} bytes at ${position})`);
        }),
      );
      k += run;
    }
    await Promise.all(reads);
  }

  async close(): Promise<void> {
    if (this.handle) await (await this.handle).close();
    this.handle = undefined;
  }
}
