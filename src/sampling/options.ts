// Sampling options: defaults (llama.cpp's), allowed ranges, and validation. The RULES table is the
// documentation of each range; every check and every error message is read from it.
import { ParameterError } from "../errors.js";

export interface SamplingOptions {
  /** Default 0.8. 0 = greedy; otherwise in [1e-6, 100] (smaller would overflow float32 logits). */
  temperature?: number;
  /** Default 40. Integer ≥ 0; 0 = off. */
  topK?: number;
  /** Default 0.95. In (0, 1]; 1 = off. */
  topP?: number;
  /** Default 0.05. In [0, 1]; 0 = off. */
  minP?: number;
  /** Default 1 (off). Finite and > 0; > 1 discourages repeats. */
  repeatPenalty?: number;
  /** Default 64. Integer in [0, 1,048,576]; 0 = off. The window is allocated up front (4 bytes each). */
  repeatLastN?: number;
  /** Default 0. In [−2, 2], as OpenAI: logit −= count × frequencyPenalty. */
  frequencyPenalty?: number;
  /** Default 0. In [−2, 2], as OpenAI: logit −= presencePenalty if count > 0. */
  presencePenalty?: number;
  /** Integer in [0, 2^32). Absent: a random seed, chosen once and reported in the resolved options. */
  seed?: number;
}

/** Every option filled in, the seed included, so a run can be repeated from its resolved options. */
export type ResolvedSamplingOptions = Readonly<Required<SamplingOptions>>;

export const SAMPLING_DEFAULTS: Readonly<Required<Omit<SamplingOptions, "seed">>> = {
  temperature: 0.8,
  topK: 40,
  topP: 0.95,
  minP: 0.05,
  repeatPenalty: 1,
  repeatLastN: 64,
  frequencyPenalty: 0,
  presencePenalty: 0,
};

export const MAX_REPEAT_LAST_N = 1 << 20;
const MIN_TEMPERATURE = 1e-6; // written out in RULES as "1e-6", which template literals would spell 0.000001
const MAX_TEMPERATURE = 100;
const SEED_LIMIT = 2 ** 32;

interface Rule {
  readonly allowed: string;
  readonly ok: (v: number) => boolean;
}

const isInt = (v: number): boolean => Number.isSafeInteger(v);

const RULES: { readonly [K in keyof SamplingOptions]-?: Rule } = {
  temperature: {
    allowed: `0 (greedy) or a number in [1e-6, ${MAX_TEMPERATURE}]`,
    ok: (v) => v === 0 || (v >= MIN_TEMPERATURE && v <= MAX_TEMPERATURE),
  },
  topK: { allowed: "an integer ≥ 0 (0 = off)", ok: (v) => isInt(v) && v >= 0 },
  topP: { allowed: "a number in (0, 1] (1 = off)", ok: (v) => v > 0 && v <= 1 },
  minP: { allowed: "a number in [0, 1] (0 = off)", ok: (v) => v >= 0 && v <= 1 },
  repeatPenalty: { allowed: "a finite number > 0 (1 = off)", ok: (v) => v > 0 && v < Infinity },
  repeatLastN: {
    allowed: `an integer in [0, ${MAX_REPEAT_LAST_N}] (0 = off)`,
    ok: (v) => isInt(v) && v >= 0 && v <= MAX_REPEAT_LAST_N,
  },
  frequencyPenalty: { allowed: "a number in [-2, 2]", ok: (v) => v >= -2 && v <= 2 },
  presencePenalty: { allowed: "a number in [-2, 2]", ok: (v) => v >= -2 && v <= 2 },
  seed: { allowed: "an integer in [0, 4294967295]", ok: (v) => isInt(v) && v >= 0 && v < SEED_LIMIT },
};

/**
 * Fills defaults and checks every option, throwing ParameterError (parameter, allowed range, value)
 * for a wrong type, NaN, ±Infinity, a non-integer where an integer is needed, or a value out of range.
 * Keys other than the sampling options are ignored, so a larger options object can be passed through.
 */
export function resolveSamplingOptions(o?: SamplingOptions): ResolvedSamplingOptions {
  if (o !== undefined && (typeof o !== "object" || o === null || Array.isArray(o))) {
    throw new ParameterError("sampling options", "an object or undefined", o);
  }
  const pick = <K extends keyof SamplingOptions>(key: K, fallback: number): number => {
    const v: unknown = o?.[key];
    if (v === undefined) return fallback;
    if (typeof v !== "number" || !RULES[key].ok(v)) throw new ParameterError(key, RULES[key].allowed, v);
    return v;
  };
  const d = SAMPLING_DEFAULTS;
  return {
    temperature: pick("temperature", d.temperature),
    topK: pick("topK", d.topK),
    topP: pick("topP", d.topP),
    minP: pick("minP", d.minP),
    repeatPenalty: pick("repeatPenalty", d.repeatPenalty),
    repeatLastN: pick("repeatLastN", d.repeatLastN),
    frequencyPenalty: pick("frequencyPenalty", d.frequencyPenalty),
    presencePenalty: pick("presencePenalty", d.presencePenalty),
    seed: o?.seed === undefined ? randomSeed() : pick("seed", 0),
  };
}

/** A fresh 32-bit seed from the Web Crypto API, present in every runtime Woolly supports. */
function randomSeed(): number {
  const word = new Uint32Array(1);
  crypto.getRandomValues(word);
  return word[0]!;
}
