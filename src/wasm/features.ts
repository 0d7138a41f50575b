// Feature detection by validation, never by sniffing the runtime: a tiny module per feature
// (wat/probe-*.wat) either validates here or not.
import probeSimd from "../../build/probe-simd.wasm";
import probeRelaxed from "../../build/probe-relaxed.wasm";

/**
 * Which build of the kernels runs (assembly/fma.ts): baseline 128-bit SIMD; relaxed SIMD's integer
 * dot products with ggml's fused multiply-adds emulated exactly ("relaxed-nofma", for engines whose
 * relaxed_madd does not fuse: Bun); or relaxed SIMD with relaxed_madd as the fused multiply-add.
 */
export type SimdFlavour = "simd" | "relaxed-nofma" | "relaxed";

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

/**
 * probe_dot_lowering()'s answer where relaxed_dot_i8x16_i7x16_add_s is one x86 AVX-VNNI vpdpbusd:
 * 4 · 255 · 127, four unsigned-by-signed products summed in i32 without the i16 saturation of the
 * pmaddubsw lowering (65534) and unlike ARM's signed dot (-508). See wat/probe-relaxed.wat.
 */
const VNNI_DOT = 4 * 255 * 127;

/** What the engine running this code supports (detectFeatures). */
export interface SimdFeatures {
  /** WebAssembly 128-bit SIMD validates. */
  readonly simd: boolean;
  /** Relaxed SIMD validates and its integer dot product computes the probe's value. */
  readonly relaxed: boolean;
  /** Relaxed SIMD's f32x4.relaxed_madd is one fused multiply-add (one rounding). */
  readonly fusedMadd: boolean;
  /**
   * Relaxed SIMD's i32x4.relaxed_dot_i8x16_i7x16_add_s is one multiply-accumulate instruction (x86
   * AVX-VNNI's vpdpbusd): the Q4_0/Q8_0 prefill tiles and the Q4_0 matvec then use their dot-add forms (layout.ts KERNEL_FLAGS),
   * faster there and slower elsewhere. Speed only: both forms give the same bits.
   */
  readonly fusedDot: boolean;
}

let cached: SimdFeatures | undefined;

/** What this engine supports, decided once by validating and running the probe modules. */
export function detectFeatures(): SimdFeatures {
  if (cached) return cached;
  const simd = WebAssembly.validate(probeSimd);
  let relaxed = false;
  let fusedMadd = false;
  let fusedDot = false;
  if (simd && WebAssembly.validate(probeRelaxed)) {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(probeRelaxed));
    const probe = instance.exports.probe as () => number;
    const probeMadd = instance.exports.probe_madd as () => number;
    relaxed = probe() === expectedRelaxedProbe();
    fusedMadd = relaxed && probeMadd() === FUSED_MADD_BITS;
    fusedDot = relaxed && (instance.exports.probe_dot_lowering as () => number)() === VNNI_DOT;
  }
  cached = { simd, relaxed, fusedMadd, fusedDot };
  return cached;
}

/** Every flavour this engine runs correctly, slowest first (empty without 128-bit SIMD). */
export function supportedFlavours(): SimdFlavour[] {
  const f = detectFeatures();
  if (!f.simd) return [];
  if (!f.relaxed) return ["simd"];
  return f.fusedMadd ? ["simd", "relaxed-nofma", "relaxed"] : ["simd", "relaxed-nofma"];
}

/** The best flavour this engine runs correctly; `null` when it lacks 128-bit SIMD altogether. */
export function bestFlavour(): SimdFlavour | null {
  const all = supportedFlavours();
  return all.length ? all[all.length - 1] : null;
}
