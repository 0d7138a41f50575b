// The build chain end to end: AssemblyScript and WAT modules over one imported memory, both flavours.
import { describe, expect, it } from "vitest";
import { createEngine, type SimdFlavour } from "../src/wasm/engine.js";
import { detectFeatures, supportedFlavours } from "../src/wasm/features.js";
import { EXPORT_NAMES } from "../src/wasm/exports.js";
import { WasmError } from "../src/errors.js";
import probeRelaxed from "../build/probe-relaxed.wasm";

const flavours: SimdFlavour[] = supportedFlavours();

describe("feature detection", () => {
  it("finds 128-bit SIMD on every runtime Woolly supports", () => {
    expect(detectFeatures().simd).toBe(true);
  });
  it("refuses relaxed SIMD where the probe does not run correctly", () => {
    const f = detectFeatures();
    if (f.relaxed) {
      expect(createEngine({ simd: "relaxed-nofma" }).flavour).toBe("relaxed-nofma");
    } else {
      expect(() => createEngine({ simd: "relaxed-nofma" })).toThrow(WasmError);
    }
    if (f.relaxed && f.fusedMadd) {
      expect(createEngine({ simd: "relaxed" }).flavour).toBe("relaxed");
    } else {
      expect(() => createEngine({ simd: "relaxed" })).toThrow(/cannot run that build/);
    }
  });
  it("auto picks the fastest build that runs right", () => {
    const f = detectFeatures();
    const auto = createEngine().flavour;
    expect(auto).toBe(f.relaxed ? (f.fusedMadd ? "relaxed" : "relaxed-nofma") : "simd");
    expect(supportedFlavours().at(-1)).toBe(auto);
  });
  it("takes relaxed SIMD only where relaxed_madd fuses (the Q4_K/Q6_K kernels replay ggml's FMA with it)", () => {
    // a = 1 + 2^-23, b = 1 - 2^-23, c = -1: fused a·b + c = -2^-46; a·b rounded first, then + c = 0
    const a = 1 + 2 ** -23, b = 1 - 2 ** -23;
    expect(Math.fround(Math.fround(a * b) - 1)).toBe(0);
    const fusedBits = new Int32Array(new Float32Array([a * b - 1]).buffer)[0];
    if (!detectFeatures().relaxed) return;
    const probe = new WebAssembly.Instance(new WebAssembly.Module(probeRelaxed)).exports.probe_madd as () => number;
    // fused here (V8 on x86 with FMA3); the runtimes test sees Bun's unfused one pick relaxed-nofma
    expect(probe() === fusedBits).toBe(detectFeatures().fusedMadd);
  });
  it("turns the dot-add forms (Q4_0/Q8_0 tiles, Q4_0 matvec) on only where relaxed_dot_i8x16_i7x16_add_s is one AVX-VNNI instruction", () => {
    const f = detectFeatures();
    if (f.relaxed) {
      // 127 · (-1 as an unsigned 255), four products: 129540 from vpdpbusd; pmaddubsw saturates its i16
      // pair sums (65534, x86 without AVX-VNNI: Bun's JSC too); a signed dot gives -508 (ARM)
      const lowering = new WebAssembly.Instance(new WebAssembly.Module(probeRelaxed)).exports.probe_dot_lowering as () => number;
      expect(lowering() === 4 * 255 * 127).toBe(f.fusedDot);
    } else {
      expect(f.fusedDot).toBe(false);
    }
    for (const flavour of flavours) {
      expect(createEngine({ simd: flavour }).kernels.kernel_flags(), flavour).toBe(flavour !== "simd" && f.fusedDot ? 1 : 0);
    }
  });
});

describe.each(flavours)("engine (%s)", (flavour) => {
  it("exports every function the TypeScript layer declares", () => {
    const e = createEngine({ simd: flavour });
    for (const name of EXPORT_NAMES.kernels) expect(typeof e.kernels[name], name).toBe("function");
    for (const name of EXPORT_NAMES.bandwidth) expect(typeof e.bandwidth[name], name).toBe("function");
  });

  it("AssemblyScript arena and WAT kernel share one memory", () => {
    const e = createEngine({ simd: flavour });
    const base = e.kernels.arena_base();
    const a = e.alloc(100, "test a");
    const b = e.alloc(4 * 1000 + 4, "test b");
    expect(a).toBe(base);
    expect(b % 64).toBe(0);
    expect(b).toBeGreaterThanOrEqual(a + 100);
    // written by JS through a view, read by the WAT module
    const f = e.f32();
    let expected = 0;
    for (let i = 0; i < 1001; i++) {
      f[b / 4 + i] = (i % 7) - 3;
      expected += (i % 7) - 3;
    }
    expect(e.bandwidth.stream_sum_f32(b, 1001)).toBe(expected);
  });

  it("grows the memory on demand and keeps views valid", () => {
    const e = createEngine({ simd: flavour });
    const before = e.memory.buffer.byteLength;
    const p = e.alloc(8 << 20, "8 MiB");
    expect(e.memory.buffer.byteLength).toBeGreaterThan(before);
    e.u8()[p + (8 << 20) - 1] = 42;
    expect(e.u8()[p + (8 << 20) - 1]).toBe(42);
  });

  it("mark and release return the arena to the mark", () => {
    const e = createEngine({ simd: flavour });
    e.alloc(1000, "keep");
    const mark = e.kernels.arena_mark();
    e.alloc(5000, "temp");
    e.kernels.arena_release(mark);
    expect(e.kernels.arena_top()).toBe(mark);
  });

  it("refuses more than 4 GiB with the figures in the message", () => {
    const e = createEngine({ simd: flavour });
    expect(() => e.alloc(5 * 2 ** 30, "a huge tensor")).toThrow(/a huge tensor.*4 GiB/);
    // and stays usable
    expect(e.alloc(64, "small")).toBeGreaterThan(0);
  });
});
