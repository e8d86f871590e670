import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DataError,
  UsageError,
  decodeNpy,
  encodeNpy,
  encodeNpyHeader,
  npyToFloat32,
  npyToFloat64,
  npyToInt32,
  openNpy,
  parseNpyHeader,
  readNpy,
  readNpyAsFloat32,
  readNpyAsInt32,
  readNpySync,
  writeNpy,
  writeNpySync,
} from '../src/index.js';

// Fixtures were written by NumPy 2.4 (np.save / numpy.lib.format.write_array) when these tests were
// written; the generating script is in fixtures/npy/README.md. The tests never need Python.
const fixtures = fileURLToPath(new URL('./fixtures/npy/', import.meta.url));
const fx = (name: string): string => join(fixtures, name);
const tmp = mkdtempSync(join(tmpdir(), 'oodkit-npy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('readNpy on files written by NumPy', () => {
  it('reads float32 2x3 in C order', async () => {
    const a = await readNpy(fx('f4_2x3.npy'));
    expect(a.dtype).toBe('float32');
    expect(a.shape).toEqual([2, 3]);
    expect(a.data).toBeInstanceOf(Float32Array);
    expect([...a.data]).toEqual([0, 0.25, 0.5, 0.75, 1, 1.25]);
  });

  it('reads every supported dtype with exact values', async () => {
    const cases: [string, string, unknown[], abstract new (...args: never[]) => unknown][] = [
      ['f8_4.npy', 'float64', [0.1, -2.5, 1e300, Math.PI], Float64Array],
      ['i8_labels.npy', 'int64', [0n, 1n, 2n, -1n, 9n], BigInt64Array],
      ['u1_2x2x3.npy', 'uint8', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], Uint8Array],
      ['i1.npy', 'int8', [-128, 0, 127], Int8Array],
      ['b1.npy', 'bool', [1, 0, 1], Uint8Array],
      ['i2.npy', 'int16', [-32768, 5, 32767], Int16Array],
      ['u2.npy', 'uint16', [0, 65535], Uint16Array],
      ['i4.npy', 'int32', [-(2 ** 31), 7, 2 ** 31 - 1], Int32Array],
      ['u4.npy', 'uint32', [0, 2 ** 32 - 1], Uint32Array],
      ['u8.npy', 'uint64', [0n, 2n ** 64n - 1n], BigUint64Array],
    ];
    for (const [file, dtype, values, ctor] of cases) {
      const a = await readNpy(fx(file));
      expect(a.dtype, file).toBe(dtype);
      expect(a.data, file).toBeInstanceOf(ctor);
      expect([...a.data], file).toEqual(values);
    }
    expect((await readNpy(fx('u1_2x2x3.npy'))).shape).toEqual([2, 2, 3]);
  });

  it('reads 0-d, empty and big-endian arrays', async () => {
    const scalar = await readNpy(fx('scalar_f8.npy'));
    expect(scalar.shape).toEqual([]);
    expect([...scalar.data]).toEqual([3.5]);
    const empty = await readNpy(fx('empty_f4_0x4.npy'));
    expect(empty.shape).toEqual([0, 4]);
    expect(empty.data.length).toBe(0);
    const be = await readNpy(fx('be_f4.npy'));
    expect([...be.data]).toEqual([1.5, -2]);
  });

  it('reads format versions 2.0 and 3.0', async () => {
    const v2 = await readNpy(fx('v2_i4_3x2.npy'));
    expect(parseNpyHeader(readFileSync(fx('v2_i4_3x2.npy'))).version).toEqual([2, 0]);
    expect(v2.shape).toEqual([3, 2]);
    expect([...v2.data]).toEqual([0, 1, 2, 3, 4, 5]);
    const v3 = await readNpy(fx('v3_f8_3.npy'));
    expect(parseNpyHeader(readFileSync(fx('v3_f8_3.npy'))).version).toEqual([3, 0]);
    expect([...v3.data]).toEqual([1, 2, 3]);
  });

  it('sync and in-memory decoders agree with the async reader', async () => {
    for (const file of ['f4_2x3.npy', 'i8_labels.npy', 'v2_i4_3x2.npy', 'be_f4.npy']) {
      const a = await readNpy(fx(file));
      expect(readNpySync(fx(file))).toEqual(a);
      expect(decodeNpy(readFileSync(fx(file)), file)).toEqual(a);
    }
  });
});

describe('bad .npy files', () => {
  it('names the file and expected vs actual bytes when truncated', async () => {
    const err = await readNpy(fx('truncated_f4_2x3.npy')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toContain('truncated_f4_2x3.npy');
    expect((err as Error).message).toContain('needs 152 bytes');
    expect((err as Error).message).toContain('the file has 147');
    expect(() => readNpySync(fx('truncated_f4_2x3.npy'))).toThrow(/needs 152 bytes.*147/);
    await expect(openNpy(fx('truncated_f4_2x3.npy'))).rejects.toThrow(/truncated/);
  });

  it('rejects Fortran order with a hint', async () => {
    await expect(readNpy(fx('fortran_f4.npy'))).rejects.toThrow(/fortran_f4\.npy: Fortran-ordered.*ascontiguousarray/);
  });

  it('rejects structured dtypes, non-npy files, missing files and trailing bytes', async () => {
    await expect(readNpy(fx('struct.npy'))).rejects.toThrow(/structured dtypes/);
    const notNpy = join(tmp, 'not.npy');
    writeFileSync(notNpy, 'hello world, not numpy');
    await expect(readNpy(notNpy)).rejects.toThrow(/not\.npy: not a NumPy \.npy file/);
    await expect(readNpy(join(tmp, 'missing.npy'))).rejects.toThrow(/missing\.npy: no such file/);
    const extra = join(tmp, 'extra.npy');
    writeFileSync(extra, Buffer.concat([readFileSync(fx('f4_2x3.npy')), Buffer.from([1, 2, 3])]));
    await expect(readNpy(extra)).rejects.toThrow(/3 unexpected bytes after the data/);
  });

  it('rejects unsupported dtypes and versions', () => {
    const header = encodeNpyHeader('float32', [2]);
    const f2 = Buffer.from(header);
    f2.write("'<f2'", f2.indexOf("'<f4'"), 'latin1');
    expect(() => parseNpyHeader(f2, 'half.npy')).toThrow(/half\.npy: unsupported dtype '<f2'/);
    const v9 = Buffer.from(header);
    v9[6] = 9;
    expect(() => parseNpyHeader(v9, 'v9.npy')).toThrow(/unsupported \.npy format version 9\.0/);
  });
});

describe('writeNpy', () => {
  it('writes byte-identical files to NumPy', () => {
    const f4 = encodeNpy({ data: new Float32Array([0, 0.25, 0.5, 0.75, 1, 1.25]), shape: [2, 3] });
    expect(Buffer.from(f4).equals(readFileSync(fx('f4_2x3.npy')))).toBe(true);
    const labels = encodeNpy({ data: new BigInt64Array([0n, 1n, 2n, -1n, 9n]) });
    expect(Buffer.from(labels).equals(readFileSync(fx('i8_labels.npy')))).toBe(true);
    const bools = encodeNpy({ data: new Uint8Array([1, 0, 1]), dtype: 'bool' });
    expect(Buffer.from(bools).equals(readFileSync(fx('b1.npy')))).toBe(true);
  });

  it('round-trips every dtype through a file and leaves no temp files', async () => {
    const arrays = [
      new Float32Array([1.5, -2, 3]),
      new Float64Array([Math.E, -0, 1e-300]),
      new Int32Array([-5, 0, 5]),
      new Uint8Array([0, 255, 7]),
      new Int8Array([-1, 2, 3]),
      new Int16Array([-300, 2, 3]),
      new Uint16Array([60000, 2, 3]),
      new Uint32Array([4e9, 2, 3]),
      new BigInt64Array([-(2n ** 62n), 2n, 3n]),
      new BigUint64Array([2n ** 63n, 2n, 3n]),
    ];
    for (const [i, data] of arrays.entries()) {
      const path = join(tmp, `rt${i}.npy`);
      await writeNpy(path, { data, shape: [3, 1] });
      const back = await readNpy(path);
      expect(back.shape).toEqual([3, 1]);
      expect(back.data).toEqual(data);
    }
    writeNpySync(join(tmp, 'sync.npy'), { data: new Float32Array(4), shape: [2, 2] });
    expect((await readNpy(join(tmp, 'sync.npy'))).shape).toEqual([2, 2]);
    expect(readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('pads the header to 64 bytes and switches to version 2 for huge headers', () => {
    for (const shape of [[1], [3, 4, 5], [100000, 512]]) {
      const h = encodeNpyHeader('float64', shape);
      expect(h.length % 64).toBe(0);
      expect(parseNpyHeader(h).shape).toEqual(shape);
    }
    const manyDims = new Array(30000).fill(1);
    const big = encodeNpyHeader('uint8', manyDims);
    expect(big[6]).toBe(2);
    expect(big.length % 64).toBe(0);
    expect(parseNpyHeader(big).shape.length).toBe(30000);
  });

  it('rejects a shape that does not match the data', async () => {
    await expect(writeNpy(join(tmp, 'bad.npy'), { data: new Float32Array(5), shape: [2, 3] })).rejects.toThrow(UsageError);
    expect(() => encodeNpy({ data: new Float32Array(2), dtype: 'int32' })).toThrow(/cannot be written as int32/);
  });
});

describe('NpyFile lazy rows', () => {
  it('reads row ranges without loading the file, matching the full read', async () => {
    const rows = 37;
    const dim = 5;
    const data = new Float64Array(rows * dim).map((_, i) => i * 0.5 - 3);
    const path = join(tmp, 'rows.npy');
    await writeNpy(path, { data, shape: [rows, dim] });
    const file = await openNpy(path);
    try {
      expect(file.rows).toBe(rows);
      expect(file.rowShape).toEqual([dim]);
      expect(file.rowSize).toBe(dim);
      const slice = await file.readRows(10, 4);
      expect(slice.shape).toEqual([4, dim]);
      expect([...slice.data]).toEqual([...data.subarray(10 * dim, 14 * dim)]);
      expect((await file.readRows(36, 1)).data[4]).toBe(data[rows * dim - 1]);
      expect((await file.readRows(5, 0)).data.length).toBe(0);
      await expect(file.readRows(35, 3)).rejects.toThrow(/rows \[35, 38\) are outside \[0, 37\)/);
      expect((await file.readAll()).data).toEqual(data);
    } finally {
      await file.close();
    }
  });

  it('swaps bytes of big-endian rows', async () => {
    const file = await openNpy(fx('be_f4.npy'));
    expect([...(await file.readRows(1, 1)).data]).toEqual([-2]);
    await file.close();
  });

  it('refuses row access on a 0-d array', async () => {
    await expect(openNpy(fx('scalar_f8.npy'))).rejects.toThrow(/0-d array has no rows/);
  });
});

describe('checked conversions', () => {
  it('int64 labels → Int32Array, with range checks', async () => {
    expect([...(await readNpyAsInt32(fx('i8_labels.npy'))).data]).toEqual([0, 1, 2, -1, 9]);
    await expect(readNpyAsInt32(fx('i8_big.npy'))).rejects.toThrow(
      /i8_big\.npy: int64 value 1099511627776 at index 1 does not fit in int32/,
    );
    await expect(readNpyAsInt32(fx('u4.npy'))).rejects.toThrow(/does not fit in int32/);
    expect([...npyToInt32({ dtype: 'float32', shape: [2], data: new Float32Array([3, -1]) })]).toEqual([3, -1]);
    expect(() => npyToInt32({ dtype: 'float32', shape: [1], data: new Float32Array([0.5]) }, 'x.npy')).toThrow(/x\.npy: expected integers/);
  });

  it('float64 → Float32Array with overflow check; int64 → Float64Array exactness check', async () => {
    await expect(readNpyAsFloat32(fx('f8_4.npy'))).rejects.toThrow(/value 1e\+300 at index 2 overflows float32/);
    expect([...npyToFloat32({ dtype: 'float64', shape: [2], data: new Float64Array([0.5, NaN]) })]).toEqual([0.5, NaN]);
    expect([...npyToFloat32({ dtype: 'int64', shape: [1], data: new BigInt64Array([-7n]) })]).toEqual([-7]);
    expect([...npyToFloat64({ dtype: 'int64', shape: [1], data: new BigInt64Array([2n ** 40n]) })]).toEqual([2 ** 40]);
    expect(() => npyToFloat64({ dtype: 'int64', shape: [1], data: new BigInt64Array([2n ** 60n]) })).toThrow(/not exact as float64/);
    expect([...npyToFloat64({ dtype: 'uint8', shape: [2], data: new Uint8Array([1, 200]) })]).toEqual([1, 200]);
  });
});
