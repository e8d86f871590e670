import { closest, distance } from 'fastest-levenshtein';

/** The closest candidate to `name`, or undefined when nothing is plausibly meant. */
export function closestMatch(name: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const best = closest(name, [...candidates]);
  const limit = Math.max(2, Math.ceil(name.length / 3));
  const lower = name.toLowerCase();
  if (best.toLowerCase().includes(lower) || lower.includes(best.toLowerCase())) return best;
  return distance(name, best) <= limit ? best : undefined;
}

/** " (did you mean 'x'?)" or "" — appended to unknown-name messages. */
export function didYouMean(name: string, candidates: readonly string[]): string {
  const best = closestMatch(name, candidates);
  return best === undefined ? '' : ` (did you mean '${best}'?)`;
}
