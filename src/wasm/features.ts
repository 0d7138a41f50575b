// Feature detection by validation, never by sniffing the runtime: a tiny module per feature
// (wat/probe-*.wat) either validates here or not.
import probeSimd from "../../build/probe-simd.wasm";
import probeRelaxed from "../../build/probe-relaxed.wasm";

/** Which build of the kernels runs: baseline 128-bit SIMD, or baseline plus relaxed SIMD. */
export type SimdFlavour = "simd" | "relaxed";

/** The value probe() must return: the same dot product computed here lane by lane. */
function expectedRelaxedProbe(): number {
  const a = [-128, 127, -1, 5, -7, 9, 100, -100, 3, -3, 64, -64, 1, 2, -2, -1];
  const b = [127, 127, 3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const c = [1000, -1000, 7, 0];
  let total = 0;
  for (let lane = 0; lane < 4; lane++) {
    let s = c[lane];
    for (let k = 0; k < 4; k++) s += a[lane * 4 + k] * b[lane * 4 + k];
    total += s * (1 << lane);
  }
  return total;
}

/**
 * probe_madd()'s answer when relaxed_madd fuses: the bits of -2^-46 (the f32 -0x1p-46), as a signed i32.
 * The relaxed kernels' per-super-block fma (assembly/quant/kcommon.ts fma_d_f32x4) replays ggml's
 * _mm256_fmadd_ps only when it is fused; unfused, it would round twice.
 */
const FUSED_MADD_BITS = 0xa8800000 | 0;

let cached: { simd: boolean; relaxed: boolean } | undefined;

/** What this engine supports, decided once by validating and running the probe modules. */
export function detectFeatures(): { simd: boolean; relaxed: boolean } {
  if (cached) return cached;
  const simd = WebAssembly.validate(probeSimd);
  let relaxed = false;
  if (simd && WebAssembly.validate(probeRelaxed)) {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(probeRelaxed));
    const probe = instance.exports.probe as () => number;
    const probeMadd = instance.exports.probe_madd as () => number;
    relaxed = probe() === expectedRelaxedProbe() && probeMadd() === FUSED_MADD_BITS;
  }
  cached = { simd, relaxed };
  return cached;
}

/** The best flavour this engine runs correctly; `null` when it lacks 128-bit SIMD altogether. */
export function bestFlavour(): SimdFlavour | null {
  const f = detectFeatures();
  return f.relaxed ? "relaxed" : f.simd ? "simd" : null;
}
