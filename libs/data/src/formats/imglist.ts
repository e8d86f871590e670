import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, resolve, sep } from 'node:path';
import { DataError } from '@oodkit/core';

export interface ImglistEntry {
  /** 1-based line number in the list file. */
  readonly line: number;
  /** The path as written in the list. */
  readonly relPath: string;
  readonly path: string;
  readonly label: number;
}

export interface ParsedImglist {
  readonly entries: ImglistEntry[];
  /** Entries whose image file does not exist (empty unless missing = 'skip'). */
  readonly skipped: ImglistEntry[];
}

/**
 * Parses an OpenOOD image list: one `<path relative to root> <label>` per line (the label is the
 * last whitespace-separated token, so paths may contain spaces), `-1` for OOD; blank lines ignored.
 * Paths that are absolute or leave `root` are refused: a list must not read arbitrary files.
 */
export async function parseImglist(
  listFile: string,
  root: string,
  options: { numClasses: number; missing: 'fail' | 'skip' },
): Promise<ParsedImglist> {
  let text: string;
  try {
    text = await readFile(listFile, 'utf8');
  } catch (error) {
    throw new DataError(`${listFile}: cannot read image list (${(error as NodeJS.ErrnoException).code ?? String(error)})`, {
      cause: error,
    });
  }
  const rootAbs = resolve(root);
  const entries: ImglistEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.trim();
    if (line === '') return;
    const cut = line.search(/\s+\S+$/);
    if (cut <= 0) throw new DataError(`${listFile}:${lineNo}: expected '<path> <label>', got '${line.slice(0, 80)}'`);
    const relPath = line.slice(0, cut);
    const labelText = line.slice(cut).trim();
    if (!/^-?\d+$/.test(labelText)) throw new DataError(`${listFile}:${lineNo}: label '${labelText}' is not an integer`);
    const label = Number(labelText);
    if (label !== -1 && (label < 0 || label >= options.numClasses)) {
      throw new DataError(`${listFile}:${lineNo}: label ${label} is outside [0, ${options.numClasses}) and is not -1 (OOD)`);
    }
    if (isAbsolute(relPath) || /^[a-zA-Z]:[\\/]/.test(relPath) || relPath.startsWith('\\')) {
      throw new DataError(`${listFile}:${lineNo}: absolute path '${relPath}' refused; paths must be relative to the data root ${rootAbs}`);
    }
    const path = resolve(rootAbs, relPath);
    if (!path.startsWith(rootAbs + sep) || relPath.split(/[\\/]/).includes('..')) {
      throw new DataError(`${listFile}:${lineNo}: path '${relPath}' escapes the data root ${rootAbs} ('..' is not allowed)`);
    }
    entries.push({ line: lineNo, relPath, path, label });
  });
  if (entries.length === 0) throw new DataError(`${listFile}: the image list is empty`);
  const exists = await existAll(entries.map((e) => e.path));
  const kept: ImglistEntry[] = [];
  const skipped: ImglistEntry[] = [];
  entries.forEach((e, i) => (exists[i] ? kept : skipped).push(e));
  if (skipped.length > 0 && options.missing === 'fail') {
    const first = skipped[0];
    throw new DataError(
      `${listFile}:${first.line}: image '${first.relPath}' not found under ${rootAbs}` +
        (skipped.length > 1
          ? ` (and ${skipped.length - 1} more missing; set missing: skip to drop them)`
          : ' (set missing: skip to drop missing images)'),
    );
  }
  if (kept.length === 0) throw new DataError(`${listFile}: none of the ${entries.length} listed images exists under ${rootAbs}`);
  return { entries: kept, skipped };
}

async function existAll(paths: string[]): Promise<boolean[]> {
  const out = new Array<boolean>(paths.length);
  const chunk = 256;
  for (let start = 0; start < paths.length; start += chunk) {
    const part = paths.slice(start, start + chunk);
    const found = await Promise.all(
      part.map((p) =>
        stat(p).then(
          (s) => s.isFile(),
          () => false,
        ),
      ),
    );
    found.forEach((ok, k) => (out[start + k] = ok));
  }
  return out;
}
