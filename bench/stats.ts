// Timing helpers: a sample runs a body until at least `minMs` have passed; results are medians.

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median over `samples` of the time of one call of `body` (ms), each sample ≥ minMs long. */
export function timeMedian(body: () => void, samples: number, minMs: number): number {
  body(); // warm-up: compiles the tier-up code, faults the pages in
  const times: number[] = [];
  for (let s = 0; s < samples; s++) {
    let calls = 0;
    const t0 = performance.now();
    let t = t0;
    do {
      body();
      calls++;
      t = performance.now();
    } while (t - t0 < minMs);
    times.push((t - t0) / calls);
  }
  return median(times);
}
