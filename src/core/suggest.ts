/**
 * "Did you mean …?" for a misspelled option, state-dict key or backend name: the closest valid
 * name, by (1) the same letters once case, `_` and `-` are ignored (elementwise_affine →
 * elementwiseAffine, Eps → eps), (2) a known synonym from PyTorch or the literature (epsilon → eps,
 * gamma → weight), (3) one name a prefix of the other (thread → threads), (4) edit distance with
 * transpositions (weigth → weight), at most a third of the name's length.
 */
const SYNONYMS: Record<string, string> = {
  epsilon: "eps", gamma: "weight", beta: "bias", scale: "weight", shift: "bias", affine: "elementwiseAffine",
  elementwiseaffine: "affine", numthreads: "threads", workers: "threads", numgroups: "numGroups",
  numbatchestracked: "numBatchesTracked", output: "out", grads: "into", mu: "mean", invstd: "rstd",
  runningvariance: "runningVar", istraining: "training", train: "training", offset: "weightOffset",
  act: "activation", nhwc: "channelsLast", useinput: "useInputStats",
};

const fold = (s: string) => s.toLowerCase().replace(/[_\-\s]/g, "");

/** Optimal-string-alignment distance (Levenshtein plus adjacent transpositions). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The valid name closest to `given`, or null when none is close. */
export function closest(given: string, valid: readonly string[]): string | null {
  if (given.length > 64) return null;
  const g = fold(given);
  const exact = valid.find((v) => fold(v) === g);
  if (exact !== undefined) return exact;
  const syn = SYNONYMS[g];
  if (syn !== undefined && valid.includes(syn)) return syn;
  const prefix = valid.find((v) => Math.min(g.length, v.length) >= 3 && (fold(v).startsWith(g) || g.startsWith(fold(v))));
  if (prefix !== undefined) return prefix;
  let best: string | null = null;
  let bestD = Infinity;
  for (const v of valid) {
    const dist = distance(g, fold(v));
    if (dist < bestD && dist <= Math.max(1, Math.floor(Math.max(g.length, v.length) / 3))) [best, bestD] = [v, dist];
  }
  return best;
}

/** `; did you mean "eps"?` or "" */
export function didYouMean(given: string, valid: readonly string[]): string {
  const c = closest(given, valid);
  return c === null ? "" : `; did you mean ${JSON.stringify(c)}?`;
}
