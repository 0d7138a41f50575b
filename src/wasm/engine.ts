// One Engine = one WebAssembly.Memory with the kernel modules instantiated over it. Each loaded
// model owns an engine (or one per shard, past 4 GiB: src/model/shards.ts), so disposing a model
// drops its memories at once.
import kernelsSimd from "../../build/kernels-simd.wasm";
import kernelsRelaxed from "../../build/kernels-relaxed.wasm";
import kernelsRelaxedNoFma from "../../build/kernels-relaxed-nofma.wasm";
import bandwidthWasm from "../../build/bandwidth.wasm";
import { WasmError } from "../errors.js";
import { bestFlavour, detectFeatures, supportedFlavours, type SimdFlavour } from "./features.js";
import type { BandwidthExports, KernelExports } from "./exports.js";

export type { SimdFlavour } from "./features.js";

/** 64 KiB, the WebAssembly page. */
export const PAGE_BYTES = 65536;
/** The wasm32 ceiling: 65536 pages = 4 GiB. */
export const MAX_PAGES = 65536;

export interface EngineOptions {
  /**
   * Which kernel build to run: `auto` (default) picks the fastest this engine runs correctly: `relaxed`
   * where relaxed SIMD validates and its multiply-add fuses, `relaxed-nofma` where it does not fuse, else `simd`.
   */
  simd?: "auto" | SimdFlavour;
  /**
   * Make the memory shared (a SharedArrayBuffer underneath) and instantiate the modules' shared
   * variants (see withSharedMemory), so
   * worker threads can run the same kernels over it (src/wasm/pool.ts). Throws
   * WasmError('instantiate') where shared memory cannot be made; check `sharedMemoryUnavailable()` first.
   */
  shared?: boolean;
}

export interface Engine {
  readonly memory: WebAssembly.Memory;
  readonly kernels: KernelExports;
  readonly bandwidth: BandwidthExports;
  readonly flavour: SimdFlavour;
  /** Whether the memory is shared, so a thread pool can work on it. */
  readonly shared: boolean;
  /** The compiled kernels module, which worker threads instantiate over the same (shared) memory. */
  readonly kernelsModule: WebAssembly.Module;
  /** Views of the memory's current buffer (re-made after the memory grows). */
  u8(): Uint8Array;
  f32(): Float32Array;
  /** The same words as i32, to copy f32 data bit for bit from one memory to another. */
  i32(): Int32Array;
  /** Allocate `bytes` in the arena (64-byte aligned); throws WasmError('out_of_memory') with the figures. */
  alloc(bytes: number, what: string): number;
}

const modules = new Map<string, WebAssembly.Module>();
function compiled(name: string, bytes: Uint8Array<ArrayBuffer>): WebAssembly.Module {
  let m = modules.get(name);
  if (!m) {
    m = new WebAssembly.Module(bytes);
    modules.set(name, m);
  }
  return m;
}

/** Resolve the flavour to run, refusing an engine without SIMD or a relaxed request it cannot honour. */
export function chooseFlavour(requested: EngineOptions["simd"] = "auto"): SimdFlavour {
  const best = bestFlavour();
  if (best === null) {
    throw new WasmError("no_simd", "this JavaScript engine does not support WebAssembly 128-bit SIMD, which Woolly's kernels need");
  }
  if (requested === "auto") return best;
  if (!supportedFlavours().includes(requested)) {
    const why = requested === "relaxed" && best === "relaxed-nofma"
      ? "its relaxed multiply-add does not fuse"
      : "it does not run relaxed SIMD correctly";
    throw new WasmError("no_simd", `simd: '${requested}' was requested but this engine cannot run that build (${why}); it runs '${best}', which 'auto' picks`);
  }
  return requested;
}

/**
 * The same module importing a shared memory: a copy of `bytes` with the `shared` bit set in the
 * limits of its `env.memory` import. A module declaring shared memory cannot import a plain one
 * (all a page without COOP/COEP can make) and vice versa, so each module exists in both forms; the
 * code is the kernels' own, byte for byte (they use no atomics), so one build serves both and the
 * two can never drift apart (compiling a shared target with asc gave the same bytes but the flag,
 * until a source changed between the two compiles). Throws when there is no memory import with a
 * maximum (a shared memory needs one).
 */
export function withSharedMemory(bytes: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const out = bytes.slice();
  let p = 8; // magic and version
  const leb = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = out[p++];
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
      shift += 7;
    }
  };
  const name = () => {
    const n = leb();
    p += n;
  };
  while (p < out.length) {
    const id = out[p++];
    const size = leb();
    const end = p + size;
    if (id !== 2) {
      p = end;
      continue;
    }
    for (let count = leb(); count > 0; count--) {
      name();
      name();
      const kind = out[p++];
      if (kind === 0) leb(); // function: type index
      else if (kind === 1 || kind === 2) {
        if (kind === 1) p++; // table: element type
        const flags = out[p];
        if (kind === 2) {
          if ((flags & 1) === 0) break; // no maximum
          out[p] = flags | 2;
          return out;
        }
        p++;
        leb();
        if (flags & 1) leb();
      } else if (kind === 3) p += 2; // global: value type, mutability
      else break;
    }
    break;
  }
  throw new WasmError("instantiate", "a Woolly module has no env.memory import with a maximum, so it cannot run over shared memory");
}

/**
 * Why this context cannot make a shared memory, or null when it can: no SharedArrayBuffer at all,
 * or a page that is not cross-origin isolated (no COOP/COEP headers).
 */
export function sharedMemoryUnavailable(): string | null {
  if (typeof SharedArrayBuffer === "undefined") return "SharedArrayBuffer is not available in this JavaScript context";
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  if (isolated === false) {
    return "the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)";
  }
  return null;
}

/** Make a fresh memory and instantiate every module over it. */
export function createEngine(options: EngineOptions = {}): Engine {
  const flavour = chooseFlavour(options.simd);
  const shared = options.shared === true;
  let memory: WebAssembly.Memory;
  try {
    memory = new WebAssembly.Memory({ initial: 4, maximum: MAX_PAGES, shared });
  } catch (cause) {
    throw new WasmError("instantiate", `could not make a${shared ? " shared" : ""} WebAssembly memory: ${String(cause)}`, { cause });
  }
  const imports = { env: { memory, abort: abortImport } };
  let kernels: KernelExports;
  let bandwidth: BandwidthExports;
  let kernelsModule: WebAssembly.Module;
  try {
    const kernelsBytes = flavour === "relaxed" ? kernelsRelaxed : flavour === "relaxed-nofma" ? kernelsRelaxedNoFma : kernelsSimd;
    kernelsModule = shared ? compiled(`${flavour}-shared`, withSharedMemory(kernelsBytes)) : compiled(flavour, kernelsBytes);
    kernels = new WebAssembly.Instance(kernelsModule, imports).exports as unknown as KernelExports;
    const bandwidthModule = shared ? compiled("bandwidth-shared", withSharedMemory(bandwidthWasm)) : compiled("bandwidth", bandwidthWasm);
    bandwidth = new WebAssembly.Instance(bandwidthModule, imports).exports as unknown as BandwidthExports;
  } catch (cause) {
    throw new WasmError("instantiate", `could not instantiate Woolly's ${flavour} kernels: ${String(cause)}`, { cause });
  }
  kernels.arena_reset();
  // The baseline build has no dot-add forms (and ignores the flag); the relaxed builds use them where
  // the instruction is one vpdpbusd (features.ts fusedDot). Workers read the flag from this memory.
  kernels.set_kernel_flags(flavour !== "simd" && detectFeatures().fusedDot ? 1 : 0);
  let u8 = new Uint8Array(memory.buffer);
  let f32 = new Float32Array(memory.buffer);
  let i32 = new Int32Array(memory.buffer);
  // A shared memory's `buffer` is a new SharedArrayBuffer after each growth (measured on Node 20:
  // the same object until then), so this comparison re-makes the views exactly when needed.
  const fresh = () => {
    if (u8.buffer !== memory.buffer) {
      u8 = new Uint8Array(memory.buffer);
      f32 = new Float32Array(memory.buffer);
      i32 = new Int32Array(memory.buffer);
    }
  };
  return {
    memory,
    kernels,
    bandwidth,
    flavour,
    shared,
    kernelsModule,
    u8() {
      fresh();
      return u8;
    },
    f32() {
      fresh();
      return f32;
    },
    i32() {
      fresh();
      return i32;
    },
    alloc(bytes: number, what: string): number {
      const p = kernels.arena_alloc(bytes, 64);
      if (p === 0) {
        const used = kernels.arena_top();
        throw new WasmError(
          "out_of_memory",
          `cannot allocate ${formatBytes(bytes)} for ${what}: ${formatBytes(used)} already in use, ` +
            `and WebAssembly memory ends at 4 GiB (${formatBytes(kernels.arena_available())} left)`,
        );
      }
      return p;
    },
  };
}

/** AssemblyScript calls env.abort on a failed assertion; the kernels build with noAssert, so this is a last resort. */
function abortImport(_msg: number, _file: number, line: number, column: number): never {
  throw new WasmError("instantiate", `kernel abort at line ${line}:${column}`);
}

export function formatBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}
