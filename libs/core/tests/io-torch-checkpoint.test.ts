import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  PickleDict,
  UnsafePickleError,
  bfloat16ToFloat,
  gatherStrided,
  halfToFloat,
  readSafetensors,
  readStateDict,
  sniffBytes,
  toFloat32,
  unpickle,
  writeSafetensors,
  TORCH_GLOBALS,
  type CheckpointTensor,
} from '../src/index.js';

// Fixtures written by real torch.save (Debian python3-torch 1.13): make_fixtures.py beside them.
const dir = new URL('./fixtures/torch/', import.meta.url).pathname;
const fixture = (name: string) => join(dir, name);

interface Expected {
  dtype: string;
  shape: number[];
  contiguous: boolean;
  values: (number | string)[];
}
const expected = JSON.parse(readFileSync(fixture('formats.json'), 'utf8')) as Record<string, Expected>;

const latin1 = (text: string) => Uint8Array.from(Buffer.from(text, 'latin1'));

const tmp = mkdtempSync(join(tmpdir(), 'oodkit-torch-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function asNumber(v: number | string): number {
  if (v === 'inf') return Infinity;
  if (v === '-inf') return -Infinity;
  if (v === 'nan') return NaN;
  return Number(v);
}

function checkAgainstTorch(tensors: Map<string, CheckpointTensor>, names: string[]): void {
  for (const name of names) {
    const want = expected[name];
    const got = tensors.get(name);
    expect(got, name).toBeDefined();
    expect(got!.dtype, name).toBe(want.dtype);
    expect(got!.shape, name).toEqual(want.shape);
    if (want.dtype === 'int64') {
      expect([...(got!.data as BigInt64Array)].map(String), name).toEqual(want.values);
    } else if (want.dtype === 'float64') {
      expect([...(got!.data as Float64Array)], name).toEqual(want.values.map(asNumber));
    } else {
      // tensor.float() in PyTorch, bit for bit (Object.is tells -0 from 0)
      const values = [...toFloat32(got!)];
      want.values.forEach((v, i) =>
        expect(Object.is(values[i], Math.fround(asNumber(v))), `${name}[${i}] = ${values[i]} vs ${v}`).toBe(true),
      );
    }
  }
}

describe('torch.save checkpoints', () => {
  const all = Object.keys(expected);

  it('zip format: every dtype, strided and shared views, empty and 0-d tensors equal PyTorch', async () => {
    const sd = await readStateDict(fixture('formats.pth'));
    expect(sd.format).toBe('torch-zip');
    expect(sd.key).toBe('');
    expect([...sd.tensors.keys()]).toEqual(all);
    checkAgainstTorch(sd.tensors, all);
    expect(expected.transposed.contiguous).toBe(false);
    expect(expected.sliced.contiguous).toBe(false);
  });

  it('legacy (pre-1.6) format gives the same tensors', async () => {
    const sd = await readStateDict(fixture('formats_legacy.pth'));
    expect(sd.format).toBe('torch-legacy');
    checkAgainstTorch(sd.tensors, all);
  });

  it('big-endian archives (byteorder record) and the archive/ prefix of PyTorch 2.x', async () => {
    checkAgainstTorch((await readStateDict(fixture('formats_big_endian.pth'))).tensors, all);
    checkAgainstTorch((await readStateDict(fixture('formats_archive_prefix.pth'))).tensors, all);
  });

  it('finds the state_dict inside a wrapping dict (by the usual keys or an explicit one)', async () => {
    const sd = await readStateDict(fixture('wrapped.pth'));
    expect(sd.key).toBe('state_dict');
    expect([...sd.tensors.keys()]).toEqual(['layer.weight', 'layer.bias']);
    expect(sd.tensors.get('layer.weight')!.shape).toEqual([3, 2]);
    const explicit = await readStateDict(fixture('wrapped.pth'), { key: 'state_dict' });
    expect([...toFloat32(explicit.tensors.get('layer.bias')!)]).toEqual([...toFloat32(sd.tensors.get('layer.bias')!)]);
    await expect(readStateDict(fixture('wrapped.pth'), { key: 'optimizer' })).rejects.toThrow(/'optimizer' is not a state_dict/);
    await expect(readStateDict(fixture('wrapped.pth'), { key: 'nope' })).rejects.toThrow(/no key 'nope'.*state_dict, optimizer/);
    await expect(readStateDict(fixture('two_state_dicts.pth'))).rejects.toThrow(/several state_dicts.*'model_a', 'model_b'/);
    expect((await readStateDict(fixture('two_state_dicts.pth'), { key: 'model_b' })).key).toBe('model_b');
  });

  it('keeps the state_dict _metadata versions (BatchNorm loading depends on them)', async () => {
    const sd = await readStateDict(fixture('formats.pth'));
    expect(sd.moduleVersions).toBeUndefined(); // a plain OrderedDict, not module.state_dict()
  });

  it('refuses pickles that reference code, by global name, without running anything', async () => {
    const marker = join(process.cwd(), 'oodkit-pickle-was-executed');
    for (const [file, global] of [
      ['malicious.pth', 'posix.system'],
      ['malicious_legacy.pth', 'builtins.eval'],
    ]) {
      const error = await readStateDict(fixture(file)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnsafePickleError);
      expect((error as UnsafePickleError).global).toBe(global);
      expect((error as Error).message).toContain(fixture(file));
      expect((error as Error).message).toContain(`'${global}'`);
    }
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses a pickled nn.Module by name and says how to re-save its state_dict', async () => {
    const error = (await readStateDict(fixture('whole_module.pth')).catch((e: unknown) => e)) as UnsafePickleError;
    expect(error).toBeInstanceOf(UnsafePickleError);
    expect(error.global).toBe('torch.nn.modules.linear.Linear');
    expect(error.message).toMatch(/torch\.save\(model\.state_dict\(\), 'model\.pth'\)/);
  });

  it('reports truncated or foreign files clearly', async () => {
    const bytes = readFileSync(fixture('formats_legacy.pth'));
    const cut = join(tmp, 'cut.pth');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
    await expect(readStateDict(cut)).rejects.toThrow(/cut\.pth: truncated/);
    const text = join(tmp, 'notes.txt');
    writeFileSync(text, 'hello');
    await expect(readStateDict(text)).rejects.toThrow(/not a PyTorch checkpoint .* nor a safetensors file/);
    await expect(readStateDict(join(tmp, 'missing.pth'))).rejects.toThrow(/missing\.pth: no such file/);
    const zipCut = join(tmp, 'zipcut.pth');
    writeFileSync(zipCut, readFileSync(fixture('formats.pth')).subarray(0, 2000));
    await expect(readStateDict(zipCut)).rejects.toThrow(/zipcut\.pth: not a readable zip archive/);
  });
});

describe('safetensors', () => {
  it('reads every dtype as written, equal to the torch fixtures', async () => {
    const sd = await readStateDict(fixture('formats.safetensors'));
    expect(sd.format).toBe('safetensors');
    const names = Object.keys(expected).filter((n) => expected[n].contiguous);
    expect([...sd.tensors.keys()].sort()).toEqual([...names].sort());
    checkAgainstTorch(sd.tensors, names);
    const { metadata } = await readSafetensors(fixture('formats.safetensors'));
    expect(metadata).toEqual({ format: 'pt' });
  });

  function safetensorsFile(header: object, data: Uint8Array): string {
    const text = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(8 + text.length + data.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
    out.set(text, 8);
    out.set(data, 8 + text.length);
    const file = join(tmp, `st-${Math.random().toString(36).slice(2)}.safetensors`);
    writeFileSync(file, out);
    return file;
  }

  it('hand-made file: values by byte, and every malformed header named', async () => {
    const data = new Uint8Array(new Float32Array([1.5, -2]).buffer);
    const ok = safetensorsFile({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, data);
    expect([...toFloat32((await readSafetensors(ok)).tensors.get('w')!)]).toEqual([1.5, -2]);
    const bad = [
      [{ w: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }, /dtype 'F8_E4M3' is not supported/],
      [{ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, /8 bytes for shape \[3\] of float32/],
      [{ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, /outside the 8 data bytes/],
      [
        {
          a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
          b: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
        },
        /overlapping or gapped/,
      ],
      [{ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, /4 trailing bytes/],
    ] as const;
    for (const [header, message] of bad) await expect(readSafetensors(safetensorsFile(header, data))).rejects.toThrow(message);
  });
});

describe('pickle reader', () => {
  interface Case {
    protocol: number;
    index: number;
    hex: string;
    expected: unknown;
    sharedMemo?: boolean;
  }
  const cases = JSON.parse(readFileSync(fixture('pickles.json'), 'utf8')) as Case[];

  function tag(v: unknown): unknown {
    if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
    if (typeof v === 'bigint') return { bigint: v.toString() };
    if (typeof v === 'number') return v; // Python's int and float are both numbers here
    if (v instanceof Uint8Array) return { bytes: [...v] };
    if (Array.isArray(v)) return Object.isFrozen(v) ? { tuple: v.map(tag) } : v.map(tag);
    if (v instanceof Set) return { set: [...v].map(tag).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)) };
    if (v instanceof Map) return { dict: [...v].map(([k, x]) => [tag(k), tag(x)]) };
    throw new Error(`unexpected ${String(v)}`);
  }

  /** The Python side tags floats by repr; JS numbers do not tell 1.0 from 1. */
  function untagFloats(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(untagFloats);
    if (v && typeof v === 'object') {
      const entries = Object.entries(v);
      if (entries.length === 1 && entries[0][0] === 'float') return entries[0][1] === 'inf' ? Infinity : Number(entries[0][1]);
      return Object.fromEntries(entries.map(([k, x]) => [k, untagFloats(x)]));
    }
    return v;
  }

  it('decodes plain Python values pickled with protocols 0–5 exactly as Python wrote them', () => {
    expect(cases.length).toBeGreaterThan(200);
    for (const c of cases) {
      const bytes = Uint8Array.from(Buffer.from(c.hex, 'hex'));
      const { value, end } = unpickle(bytes, { source: `case ${c.protocol}/${c.index}`, globals: TORCH_GLOBALS });
      expect(end).toBe(bytes.length);
      expect(tag(value), `protocol ${c.protocol}, value ${c.index}`).toEqual(untagFloats(c.expected));
      if (c.sharedMemo) {
        const [a, b] = value as unknown[];
        expect(a).toBe(b); // memo references keep identity, as in Python
      }
    }
  });

  it('refuses globals outside the table for every opcode that could call code', () => {
    // GLOBAL + REDUCE (protocol 2), STACK_GLOBAL (protocol 4), INST (protocol 0)
    const global = latin1('\x80\x02cbuiltins\neval\nX\x03\x00\x00\x001+1\x85R.');
    expect(() => unpickle(global, { source: 'g', globals: TORCH_GLOBALS })).toThrow(/g: refused to load.*'builtins\.eval'/);
    const stack = latin1('\x80\x04\x8c\x02os\x8c\x06system\x93.');
    expect(() => unpickle(stack, { source: 's', globals: TORCH_GLOBALS })).toThrow(/'os\.system'/);
    const inst = latin1("(S'ls'\nios\nsystem\n.");
    expect(() => unpickle(inst, { source: 'i', globals: TORCH_GLOBALS })).toThrow(/'os\.system'/);
    // calling an allowed global that only names a type (a storage class) is refused too
    const callStorage = latin1('\x80\x02ctorch\nFloatStorage\n)R.');
    expect(() => unpickle(callStorage, { source: 'c', globals: TORCH_GLOBALS })).toThrow(UnsafePickleError);
    // and no REDUCE can be applied to a plain value
    expect(() => unpickle(Uint8Array.from([0x80, 2, 0x4b, 1, 0x29, 0x52, 0x2e]), { source: 'r', globals: TORCH_GLOBALS })).toThrow(
      /REDUCE on a value that is not an allowed global/,
    );
  });

  it('fails cleanly on corrupt input', () => {
    const bad = (hex: string) => () => unpickle(Uint8Array.from(Buffer.from(hex, 'hex')), { source: 'x', globals: TORCH_GLOBALS });
    expect(bad('8002')).toThrow(/x: not a valid pickle: truncated/);
    expect(bad('80025d2e00').bind(null)).not.toThrow();
    expect(bad('800230')).toThrow(/stack underflow/);
    expect(bad('8002ff')).toThrow(/unknown opcode 0xff/);
    expect(bad('8002680a2e')).toThrow(/memo entry 10 does not exist/);
    expect(bad('800251')).toThrow(/stack underflow/);
  });

  it('OrderedDict BUILD state lands in attributes (state_dict _metadata)', () => {
    const py = latin1('\x80\x02ccollections\nOrderedDict\n)R}X\t\x00\x00\x00_metadata}sb.');
    const { value } = unpickle(py, { source: 'o', globals: TORCH_GLOBALS });
    expect(value).toBeInstanceOf(PickleDict);
    expect((value as PickleDict).className).toBe('OrderedDict');
    expect((value as PickleDict).attributes.get('_metadata')).toBeInstanceOf(PickleDict);
  });
});

describe('tensor helpers', () => {
  it('half and bfloat16 conversions are exact', () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x7bff)).toBe(65504);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(Object.is(halfToFloat(0x8000), -0)).toBe(true);
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(halfToFloat(0x7e00)).toBeNaN();
    expect(bfloat16ToFloat(0x3f80)).toBe(1);
    expect(bfloat16ToFloat(0xc049)).toBe(Math.fround(-3.140625));
  });

  it('strided gathers follow as_strided and refuse views outside the storage', () => {
    const storage = Float32Array.from({ length: 12 }, (_, i) => i);
    expect([...gatherStrided(storage, 0, [3, 4], [1, 3], 't')]).toEqual([0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11]);
    expect([...gatherStrided(storage, 5, [2, 2], [4, 2], 't')]).toEqual([5, 7, 9, 11]);
    expect([...gatherStrided(storage, 2, [3], [0], 't')]).toEqual([2, 2, 2]); // expanded (stride 0)
    expect(() => gatherStrided(storage, 6, [2, 4], [4, 1], 'x')).toThrow(/reaches element 13 of a storage of 12/);
  });

  it('sniffs file kinds from their first bytes', () => {
    expect(sniffBytes(Uint8Array.from([0x50, 0x4b, 3, 4]))).toBe('zip');
    expect(sniffBytes(readFileSync(fixture('formats_legacy.pth')).subarray(0, 16))).toBe('torch-legacy');
    expect(sniffBytes(readFileSync(fixture('formats.safetensors')).subarray(0, 16))).toBe('safetensors');
    expect(sniffBytes(new TextEncoder().encode('plain text'))).toBe('unknown');
  });
});

describe('safetensors writer', () => {
  it('round-trips every dtype, shapes and metadata through the reader', async () => {
    const sd = await readStateDict(fixture('formats.safetensors'));
    const file = join(tmp, 'roundtrip.safetensors');
    await writeSafetensors(file, sd.tensors, { note: 'ünïcode ok' });
    const back = await readSafetensors(file);
    expect(back.metadata).toEqual({ note: 'ünïcode ok' });
    expect([...back.tensors.keys()]).toEqual([...sd.tensors.keys()]);
    for (const [name, t] of sd.tensors) {
      expect(back.tensors.get(name)!.dtype).toBe(t.dtype);
      expect(back.tensors.get(name)!.shape).toEqual(t.shape);
      expect([...back.tensors.get(name)!.data]).toEqual([...t.data]);
    }
  });
});
