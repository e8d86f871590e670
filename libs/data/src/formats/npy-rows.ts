import type { NpyFile } from '@oodkit/core';
import type { RowStore } from './rows.js';

/** Rows of a uint8 .npy file read on demand through core's NpyFile; consecutive indices coalesce. */
export class NpyRows implements RowStore {
  readonly count: number;
  readonly rowBytes: number;

  constructor(private readonly file: NpyFile) {
    this.count = file.rows;
    this.rowBytes = file.rowSize;
  }

  async readRows(indices: ArrayLike<number>, out: Uint8Array): Promise<void> {
    const reads: Promise<void>[] = [];
    let k = 0;
    while (k < indices.length) {
      let run = 1;
      while (k + run < indices.length && indices[k + run] === indices[k] + run) run++;
      const at = k * this.rowBytes;
      reads.push(this.file.readRows(indices[k], run).then((rows) => out.set(rows.data as Uint8Array, at)));
      k += run;
    }
    await Promise.all(reads);
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
