import { DataError } from '../errors/oodkit-error.js';

/**
 * A restricted reader of Python pickles (protocols 0–5). It interprets the opcodes as data and never
 * calls into anything it does not know: a GLOBAL (a reference to a Python callable or class) is looked
 * up in the table the caller passes, and anything not in it stops the read with an `UnsafePickleError`
 * naming the global. Calling (REDUCE, NEWOBJ, INST, OBJ) and BUILD are only possible on those entries,
 * and they are plain functions of this reader that build data, so no file can run code.
 *
 * Values: None → null, bool, int → number (bigint beyond 2^53), float → number, str → string,
 * bytes/bytearray → Uint8Array, list → array, tuple → frozen array, dict → PickleDict, set → Set.
 */
export type PickleValue = unknown;

/** A Python dict (insertion-ordered); `className` tells dict from OrderedDict; BUILD state goes to `attributes`. */
export class PickleDict extends Map<PickleValue, PickleValue> {
  readonly attributes = new Map<string, PickleValue>();
  constructor(readonly className = 'dict') {
    super();
  }
}

/** What a GLOBAL may resolve to: data-building behaviour for the opcodes that use a global. */
export interface PickleGlobal {
  /** Dotted name, e.g. `collections.OrderedDict`. */
  readonly name: string;
  /** REDUCE / INST / OBJ: `global(*args)`. */
  call?(args: readonly PickleValue[]): PickleValue;
  /** NEWOBJ / NEWOBJ_EX: `cls.__new__(cls, *args)`. */
  construct?(args: readonly PickleValue[]): PickleValue;
}

/** An object built from a global that accepts BUILD (`__setstate__`) with `state`. */
export interface PickleBuildable {
  setState(state: PickleValue): void;
}

export interface UnpickleOptions {
  /** Shown in every error message (file, and the entry inside an archive). */
  readonly source: string;
  /** The only globals the pickle may reference, by dotted name. */
  readonly globals: ReadonlyMap<string, PickleGlobal>;
  /** Messages for globals known to be refused, appended to the error (e.g. how to re-save the file). */
  readonly refusalHint?: (name: string) => string | undefined;
  /** Resolves persistent ids (PERSID, BINPERSID); without it they are an error. */
  readonly persistentLoad?: (pid: PickleValue) => PickleValue;
  /** Start offset in `bytes` (a file may hold several pickles back to back). */
  readonly offset?: number;
}

export interface UnpickleResult {
  readonly value: PickleValue;
  /** Offset just after the STOP opcode. */
  readonly end: number;
}

/** A pickle that references a global outside the allowed table, or uses an opcode that would run code. */
export class UnsafePickleError extends DataError {
  constructor(
    readonly source: string,
    readonly global: string,
    message: string,
  ) {
    super(message);
  }
}

/** Python 2 module names that pickles written by Python 2 use. */
const PY2_MODULES: Readonly<Record<string, string>> = { __builtin__: 'builtins', copy_reg: 'copyreg' };

const textDecoder = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

export function unpickle(bytes: Uint8Array, options: UnpickleOptions): UnpickleResult {
  return new Unpickler(bytes, options).run();
}

class Unpickler {
  private pos: number;
  private stack: PickleValue[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PickleValue>();
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly options: UnpickleOptions,
  ) {
    this.pos = options.offset ?? 0;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private fail(message: string): never {
    throw new DataError(`${this.options.source}: not a valid pickle: ${message} (at byte ${this.pos})`);
  }

  private refuse(name: string, what: string): never {
    const hint = this.options.refusalHint?.(name);
    throw new UnsafePickleError(
      this.options.source,
      name,
      `${this.options.source}: refused to load: the pickle ${what} '${name}', which is not among the globals a state_dict uses ` +
        `(tensors, storages, OrderedDict). oodkit parses checkpoints as data and never runs code from them.` +
        (hint ? ` ${hint}` : ''),
    );
  }

  private need(n: number): void {
    if (this.pos + n > this.bytes.length) this.fail(`truncated: ${n} more bytes needed`);
  }

  private u8(): number {
    this.need(1);
    return this.bytes[this.pos++];
  }

  private u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  private i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  private u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  private u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail('length too large');
    return Number(v);
  }

  private take(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) this.fail('unterminated line');
    const text = latin1.decode(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return text;
  }

  private utf8(raw: Uint8Array): string {
    try {
      return textDecoder.decode(raw);
    } catch {
      return this.fail('string is not UTF-8');
    }
  }

  private pop(): PickleValue {
    const floor = this.marks.length ? this.marks[this.marks.length - 1] : 0;
    if (this.stack.length <= floor) this.fail('stack underflow');
    return this.stack.pop();
  }

  private top(): PickleValue {
    const floor = this.marks.length ? this.marks[this.marks.length - 1] : 0;
    if (this.stack.length <= floor) this.fail('stack underflow');
    return this.stack[this.stack.length - 1];
  }

  /** Items pushed since the last MARK (removed from the stack, the mark too). */
  private popMark(): PickleValue[] {
    const mark = this.marks.pop();
    if (mark === undefined) this.fail('no MARK');
    return this.stack.splice(mark);
  }

  private global(module: string, name: string): PickleGlobal {
    const full = `${PY2_MODULES[module] ?? module}.${name}`;
    const entry = this.options.globals.get(full);
    if (!entry) this.refuse(full, 'references the global');
    return entry;
  }

  private callable(value: PickleValue, opcode: string): PickleGlobal {
    if (
      typeof value === 'object' &&
      value !== null &&
      'name' in value &&
      this.options.globals.get((value as PickleGlobal).name) === value
    ) {
      return value as PickleGlobal;
    }
    return this.fail(`${opcode} on a value that is not an allowed global`);
  }

  private call(fn: PickleGlobal, args: PickleValue, opcode: string): PickleValue {
    if (!Array.isArray(args)) this.fail(`${opcode} arguments are not a tuple`);
    if (!fn.call) this.refuse(fn.name, `calls`);
    try {
      return fn.call(args);
    } catch (error) {
      if (error instanceof DataError) throw error;
      return this.fail(`${fn.name}: ${(error as Error).message}`);
    }
  }

  private construct(cls: PickleGlobal, args: PickleValue): PickleValue {
    if (!Array.isArray(args)) this.fail('NEWOBJ arguments are not a tuple');
    if (!cls.construct) this.refuse(cls.name, 'instantiates');
    return cls.construct(args);
  }

  private setItems(target: PickleValue, items: PickleValue[]): void {
    if (!(target instanceof Map)) this.fail('SETITEM(S) on a value that is not a dict');
    if (items.length % 2 !== 0) this.fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) target.set(hashable(items[i]), items[i + 1]);
  }

  private persistent(pid: PickleValue): PickleValue {
    if (!this.options.persistentLoad) this.fail('persistent id without a loader for it');
    return this.options.persistentLoad(pid);
  }

  run(): UnpickleResult {
    for (;;) {
      const op = this.u8();
      switch (op) {
        case 0x80: // PROTO
          if (this.u8() > 5) this.fail('pickle protocol newer than 5');
          break;
        case 0x95: // FRAME: a length prefix only
          this.u64();
          break;
        case 0x2e: // STOP
          return { value: this.pop(), end: this.pos };
        case 0x28: // MARK
          this.marks.push(this.stack.length);
          break;
        case 0x30: // POP
          this.pop();
          break;
        case 0x31: // POP_MARK
          this.popMark();
          break;
        case 0x32: // DUP
          this.stack.push(this.top());
          break;
        // ---- numbers
        case 0x4a: // BININT
          this.stack.push(this.i32());
          break;
        case 0x4b: // BININT1
          this.stack.push(this.u8());
          break;
        case 0x4d: // BININT2
          this.stack.push(this.u16());
          break;
        case 0x8a: // LONG1
          this.stack.push(decodeLong(this.take(this.u8())));
          break;
        case 0x8b: {
          // LONG4
          const n = this.i32();
          if (n < 0) this.fail('negative LONG4 length');
          this.stack.push(decodeLong(this.take(n)));
          break;
        }
        case 0x49: {
          // INT (text); "00"/"01" are Python 2's False/True
          const text = this.line();
          if (text === '00') this.stack.push(false);
          else if (text === '01') this.stack.push(true);
          else this.stack.push(parseInteger(text, () => this.fail(`bad INT '${text}'`)));
          break;
        }
        case 0x4c: {
          // LONG (text, trailing L)
          const text = this.line().replace(/L$/, '');
          this.stack.push(parseInteger(text, () => this.fail(`bad LONG '${text}'`)));
          break;
        }
        case 0x46: {
          // FLOAT (text)
          const text = this.line().trim();
          const special: Record<string, number> = { inf: Infinity, '-inf': -Infinity, nan: NaN };
          const v = text in special ? special[text] : Number(text);
          if (Number.isNaN(v) && text !== 'nan') this.fail(`bad FLOAT '${text}'`);
          this.stack.push(v);
          break;
        }
        case 0x47: // BINFLOAT (big-endian double)
          this.need(8);
          this.stack.push(this.view.getFloat64(this.pos, false));
          this.pos += 8;
          break;
        // ---- constants
        case 0x4e:
          this.stack.push(null);
          break;
        case 0x88:
          this.stack.push(true);
          break;
        case 0x89:
          this.stack.push(false);
          break;
        // ---- strings and bytes
        case 0x58: // BINUNICODE
          this.stack.push(this.utf8(this.take(this.u32())));
          break;
        case 0x8c: // SHORT_BINUNICODE
          this.stack.push(this.utf8(this.take(this.u8())));
          break;
        case 0x8d: // BINUNICODE8
          this.stack.push(this.utf8(this.take(this.u64())));
          break;
        case 0x56: // UNICODE (raw-unicode-escape text)
          this.stack.push(rawUnicodeEscape(this.line()));
          break;
        case 0x55: // SHORT_BINSTRING (Python 2 str, read as text like torch.load's default encoding)
          this.stack.push(latin1.decode(this.take(this.u8())));
          break;
        case 0x54: {
          // BINSTRING
          const n = this.i32();
          if (n < 0) this.fail('negative BINSTRING length');
          this.stack.push(latin1.decode(this.take(n)));
          break;
        }
        case 0x53: // STRING (quoted repr)
          this.stack.push(pythonStringLiteral(this.line(), () => this.fail('bad STRING literal')));
          break;
        case 0x43: // SHORT_BINBYTES
          this.stack.push(this.take(this.u8()).slice());
          break;
        case 0x42: // BINBYTES
          this.stack.push(this.take(this.u32()).slice());
          break;
        case 0x8e: // BINBYTES8
        case 0x96: // BYTEARRAY8
          this.stack.push(this.take(this.u64()).slice());
          break;
        // ---- containers
        case 0x29: // EMPTY_TUPLE
          this.stack.push(Object.freeze([]));
          break;
        case 0x74: // TUPLE
          this.stack.push(Object.freeze(this.popMark()));
          break;
        case 0x85: // TUPLE1
          this.stack.push(Object.freeze([this.pop()]));
          break;
        case 0x86: {
          // TUPLE2
          const b = this.pop();
          const a = this.pop();
          this.stack.push(Object.freeze([a, b]));
          break;
        }
        case 0x87: {
          // TUPLE3
          const c = this.pop();
          const b = this.pop();
          const a = this.pop();
          this.stack.push(Object.freeze([a, b, c]));
          break;
        }
        case 0x5d: // EMPTY_LIST
          this.stack.push([]);
          break;
        case 0x6c: // LIST
          this.stack.push(this.popMark());
          break;
        case 0x61: {
          // APPEND
          const item = this.pop();
          const list = this.top();
          if (!Array.isArray(list) || Object.isFrozen(list)) this.fail('APPEND to a value that is not a list');
          list.push(item);
          break;
        }
        case 0x65: {
          // APPENDS
          const items = this.popMark();
          const list = this.top();
          if (!Array.isArray(list) || Object.isFrozen(list)) this.fail('APPENDS to a value that is not a list');
          for (const item of items) list.push(item);
          break;
        }
        case 0x7d: // EMPTY_DICT
          this.stack.push(new PickleDict());
          break;
        case 0x64: {
          // DICT
          const items = this.popMark();
          const dict = new PickleDict();
          this.setItems(dict, items);
          this.stack.push(dict);
          break;
        }
        case 0x73: {
          // SETITEM
          const value = this.pop();
          const key = this.pop();
          this.setItems(this.top(), [key, value]);
          break;
        }
        case 0x75: {
          // SETITEMS
          const items = this.popMark();
          this.setItems(this.top(), items);
          break;
        }
        case 0x8f: // EMPTY_SET
          this.stack.push(new Set());
          break;
        case 0x90: {
          // ADDITEMS
          const items = this.popMark();
          const set = this.top();
          if (!(set instanceof Set)) this.fail('ADDITEMS to a value that is not a set');
          for (const item of items) set.add(hashable(item));
          break;
        }
        case 0x91: // FROZENSET
          this.stack.push(new Set(this.popMark().map(hashable)));
          break;
        // ---- memo
        case 0x70: // PUT
          this.memo.set(Number(this.line()), this.top());
          break;
        case 0x71: // BINPUT
          this.memo.set(this.u8(), this.top());
          break;
        case 0x72: // LONG_BINPUT
          this.memo.set(this.u32(), this.top());
          break;
        case 0x94: // MEMOIZE
          this.memo.set(this.memo.size, this.top());
          break;
        case 0x67: // GET
          this.stack.push(this.memoGet(Number(this.line())));
          break;
        case 0x68: // BINGET
          this.stack.push(this.memoGet(this.u8()));
          break;
        case 0x6a: // LONG_BINGET
          this.stack.push(this.memoGet(this.u32()));
          break;
        // ---- globals and the opcodes that would run code: only the allowed table
        case 0x63: {
          // GLOBAL
          const module = this.line();
          const name = this.line();
          this.stack.push(this.global(module, name));
          break;
        }
        case 0x93: {
          // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL needs two strings');
          this.stack.push(this.global(module, name));
          break;
        }
        case 0x52: {
          // REDUCE
          const args = this.pop();
          const fn = this.callable(this.pop(), 'REDUCE');
          this.stack.push(this.call(fn, args, 'REDUCE'));
          break;
        }
        case 0x81: {
          // NEWOBJ
          const args = this.pop();
          const cls = this.callable(this.pop(), 'NEWOBJ');
          this.stack.push(this.construct(cls, args));
          break;
        }
        case 0x92: {
          // NEWOBJ_EX
          const kwargs = this.pop();
          const args = this.pop();
          const cls = this.callable(this.pop(), 'NEWOBJ_EX');
          if (!(kwargs instanceof Map) || kwargs.size > 0) this.refuse(cls.name, 'instantiates with keyword arguments');
          this.stack.push(this.construct(cls, args));
          break;
        }
        case 0x69: {
          // INST
          const module = this.line();
          const name = this.line();
          const fn = this.global(module, name);
          this.stack.push(this.call(fn, Object.freeze(this.popMark()), 'INST'));
          break;
        }
        case 0x6f: {
          // OBJ
          const items = this.popMark();
          if (items.length === 0) this.fail('OBJ without a class');
          const fn = this.callable(items[0], 'OBJ');
          this.stack.push(this.call(fn, Object.freeze(items.slice(1)), 'OBJ'));
          break;
        }
        case 0x62: {
          // BUILD
          const state = this.pop();
          const inst = this.top();
          if (inst instanceof PickleDict) {
            if (!(state instanceof Map)) this.fail('BUILD of a dict with a state that is not a dict');
            for (const [k, v] of state) if (typeof k === 'string') inst.attributes.set(k, v);
          } else if (typeof inst === 'object' && inst !== null && typeof (inst as PickleBuildable).setState === 'function') {
            (inst as PickleBuildable).setState(state);
          } else {
            this.fail('BUILD on a value that does not accept state');
          }
          break;
        }
        case 0x50: // PERSID
          this.stack.push(this.persistent(this.line()));
          break;
        case 0x51: // BINPERSID
          this.stack.push(this.persistent(this.pop()));
          break;
        case 0x82:
        case 0x83:
        case 0x84:
          this.refuse('copyreg extension registry', 'uses an entry of the');
          break;
        case 0x97:
        case 0x98:
          this.fail('out-of-band buffers (pickle protocol 5) are not supported');
          break;
        default:
          this.fail(`unknown opcode 0x${op.toString(16).padStart(2, '0')}`);
      }
    }
  }

  private memoGet(index: number): PickleValue {
    if (!this.memo.has(index)) this.fail(`memo entry ${index} does not exist`);
    return this.memo.get(index);
  }
}

/** Map/Set keys: tuples of primitives become their string form so equal tuples are one key. */
function hashable(key: PickleValue): PickleValue {
  return Array.isArray(key) ? `(${key.map(String).join(', ')})` : key;
}

/** Little-endian two's complement (LONG1/LONG4) → number, or bigint beyond ±2^53. */
export function decodeLong(raw: Uint8Array): number | bigint {
  if (raw.length === 0) return 0;
  let v = 0n;
  for (let i = raw.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(raw[i]);
  if (raw[raw.length - 1] & 0x80) v -= 1n << BigInt(8 * raw.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function parseInteger(text: string, fail: () => never): number | bigint {
  if (!/^[-+]?\d+$/.test(text.trim())) fail();
  const v = BigInt(text.trim());
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function rawUnicodeEscape(text: string): string {
  return text.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, u4: string, u8: string) =>
    String.fromCodePoint(parseInt(u4 ?? u8, 16)),
  );
}

/** A Python 2 `repr` string literal ('...' or "..."), backslash escapes included. */
function pythonStringLiteral(text: string, fail: () => never): string {
  const quote = text[0];
  if ((quote !== "'" && quote !== '"') || text.length < 2 || text[text.length - 1] !== quote) fail();
  const body = text.slice(1, -1);
  const simple: Record<string, string> = {
    n: '\n',
    t: '\t',
    r: '\r',
    '\\': '\\',
    "'": "'",
    '"': '"',
    a: '\x07',
    b: '\b',
    f: '\f',
    v: '\v',
  };
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const next = body[++i];
    if (next === undefined) fail();
    if (simple[next] !== undefined) out += simple[next];
    else if (next === 'x') {
      const hex = body.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) fail();
      out += String.fromCharCode(parseInt(hex, 16));
      i += 2;
    } else if (/[0-7]/.test(next)) {
      const oct = /^[0-7]{1,3}/.exec(body.slice(i))![0];
      out += String.fromCharCode(parseInt(oct, 8));
      i += oct.length - 1;
    } else out += `\\${next}`;
  }
  return out;
}
