// Integer ranges as GBNF, as llama.cpp's build_min_max_int: decimal strings between two bounds
// (either may be open), digit by digit, with no leading zeros.

const MIN = Number.NEGATIVE_INFINITY;
const MAX = Number.POSITIVE_INFINITY;

/** GBNF for the integers in [min, max] (±Infinity: open), without the surrounding parentheses. */
export function intRangeGbnf(min: number, max: number): string {
  const out: string[] = [];
  build(min, max, out, 16, true);
  return out.join("");
}

function digitRange(out: string[], from: string, to: string): void {
  out.push(from === to ? `[${from}]` : `[${from}-${to}]`);
}

function moreDigits(out: string[], minDigits: number, maxDigits: number): void {
  out.push("[0-9]");
  if (minDigits === maxDigits && minDigits === 1) return;
  out.push(`{${minDigits}`);
  if (maxDigits !== minDigits) out.push(maxDigits === MAX ? "," : `,${maxDigits}`);
  out.push("}");
}

const chr = (c: number): string => String.fromCharCode(c);

/** Strings of equal length from `from` to `to` (both decimal digit strings). */
function uniformRange(out: string[], from: string, to: string): void {
  let i = 0;
  while (i < from.length && i < to.length && from[i] === to[i]) i++;
  if (i > 0) out.push(`"${from.slice(0, i)}"`);
  if (i >= from.length || i >= to.length) return;
  if (i > 0) out.push(" ");
  const subLen = from.length - i - 1;
  const f = from.charCodeAt(i);
  const t = to.charCodeAt(i);
  if (subLen <= 0) {
    out.push(`[${from[i]}-${to[i]}]`);
    return;
  }
  const fromSub = from.slice(i + 1);
  const toSub = to.slice(i + 1);
  const zeros = "0".repeat(subLen);
  const nines = "9".repeat(subLen);
  let toReached = false;
  out.push("(");
  if (fromSub === zeros) {
    digitRange(out, from[i], chr(t - 1));
    out.push(" ");
    moreDigits(out, subLen, subLen);
  } else {
    out.push(`[${from[i]}] (`);
    uniformRange(out, fromSub, nines);
    out.push(")");
    if (f < t - 1) {
      out.push(" | ");
      if (toSub === nines) {
        digitRange(out, chr(f + 1), to[i]);
        toReached = true;
      } else digitRange(out, chr(f + 1), chr(t - 1));
      out.push(" ");
      moreDigits(out, subLen, subLen);
    }
  }
  if (!toReached) {
    out.push(" | ");
    digitRange(out, to[i], to[i]);
    out.push(" ");
    uniformRange(out, zeros, toSub);
  }
  out.push(")");
}

function build(minValue: number, maxValue: number, out: string[], decimalsLeft: number, topLevel: boolean): void {
  const hasMin = minValue !== MIN;
  const hasMax = maxValue !== MAX;
  if (hasMin && hasMax) {
    if (minValue < 0 && maxValue < 0) {
      out.push('"-" (');
      build(-maxValue, -minValue, out, decimalsLeft, true);
      out.push(")");
      return;
    }
    let lo = minValue;
    if (lo < 0) {
      out.push('"-" (');
      build(0, -lo, out, decimalsLeft, true);
      out.push(") | ");
      lo = 0;
    }
    let minS = String(lo);
    const maxS = String(maxValue);
    for (let digits = minS.length; digits < maxS.length; digits++) {
      uniformRange(out, minS, "9".repeat(digits));
      minS = "1" + "0".repeat(digits);
      out.push(" | ");
    }
    uniformRange(out, minS, maxS);
    return;
  }
  const lessDecimals = Math.max(decimalsLeft - 1, 1);
  if (hasMin) {
    if (minValue < 0) {
      out.push('"-" (');
      build(MIN, -minValue, out, decimalsLeft, false);
      out.push(") | [0] | [1-9] ");
      moreDigits(out, 0, decimalsLeft - 1);
    } else if (minValue === 0) {
      if (topLevel) {
        out.push("[0] | [1-9] ");
        moreDigits(out, 0, lessDecimals);
      } else moreDigits(out, 1, decimalsLeft);
    } else if (minValue <= 9) {
      const c = 48 + minValue;
      const rangeStart = topLevel ? 49 : 48;
      if (c > rangeStart) {
        digitRange(out, chr(rangeStart), chr(c - 1));
        out.push(" ");
        moreDigits(out, 1, lessDecimals);
        out.push(" | ");
      }
      digitRange(out, chr(c), "9");
      out.push(" ");
      moreDigits(out, 0, lessDecimals);
    } else {
      const minS = String(minValue);
      const len = minS.length;
      const c = minS.charCodeAt(0);
      if (c > 49) {
        digitRange(out, topLevel ? "1" : "0", chr(c - 1));
        out.push(" ");
        moreDigits(out, len, lessDecimals);
        out.push(" | ");
      }
      digitRange(out, chr(c), chr(c));
      out.push(" (");
      build(Number(minS.slice(1)), MAX, out, lessDecimals, false);
      out.push(")");
      if (c < 57) {
        out.push(" | ");
        digitRange(out, chr(c + 1), "9");
        out.push(" ");
        moreDigits(out, len - 1, lessDecimals);
      }
    }
    return;
  }
  if (hasMax) {
    if (maxValue >= 0) {
      if (topLevel) {
        out.push('"-" [1-9] ');
        moreDigits(out, 0, lessDecimals);
        out.push(" | ");
      }
      build(0, maxValue, out, decimalsLeft, true);
    } else {
      out.push('"-" (');
      build(-maxValue, MAX, out, decimalsLeft, false);
      out.push(")");
    }
    return;
  }
  // no bound at all: any integer (callers use the integer primitive instead)
  out.push('"-"? ([0] | [1-9] [0-9]{0,15})');
}
