/** The candidate closest to `input` by edit distance, if it is close enough to be a likely typo. */
export function nearest(input: string, candidates: readonly string[], maxDistance = 3): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const d = levenshtein(input.toLowerCase(), c.toLowerCase());
    if (d < bestScore) {
      bestScore = d;
      best = c;
    }
  }
  if (bestScore <= Math.min(maxDistance, Math.max(1, Math.floor(input.length / 2)))) return best;
  // A shortened or lengthened name ("maxPayload" for "maxPayloadBytes").
  const lower = input.toLowerCase();
  return lower.length >= 4 ? candidates.find((c) => c.toLowerCase().startsWith(lower) || lower.startsWith(c.toLowerCase())) : undefined;
}

export function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}
