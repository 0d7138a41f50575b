// A/B timing of the kernels of two git revisions (or a revision and the work tree) in ONE process, calls
// alternating: on a machine shared with other jobs, separate `woolly-bench kernels` runs scatter by ±30%,
// while two kernels timed back to back see the same load. Not part of CI.
//
//   node scripts/kernel-ab.mjs [--base REV|dir:PATH] [--head REV|wt|dir:PATH] [--simd simd|relaxed] [--formats Q4_K,Q4_0]
//                              [--shape 4096x4096] [--mode matvec|matmulN[,…]] [--calls 300] [--ws 96]
//                              [--base-flags N] [--head-flags N]
//
// --base-flags / --head-flags: the kernel flags (assembly/layout.ts KERNEL_FLAGS; 1 = the Q4_0/Q8_0 tiles' and Q4_0 matvec's
// dot-add forms) each revision's memory gets; by default what the engine would set here (the relaxed
// probe's probe_dot_lowering), e.g. --base wt --base-flags 0 --head-flags 1 times the two forms.
// A revision older than the flags ignores them.
//
// dir:PATH takes assembly/ and asconfig.json from the folder PATH (a copy of a variant of the work tree).
// --mode takes several, e.g. --mode matmul64,matmul512 (prompt batches: the GEMM tiles of
// assembly/quant/gemm_*.ts; use --calls 20 or so, a 4096×4096 matmul512 takes ~0.3 s).
// --mode attnN / attnpN / attnq8N time attention of one token over N cached positions instead (TinyLlama's
// heads: 32 q, 4 kv, headDim 64; f16 cache decode order, f16 prompt order, q8_0 cache); --formats is then
// ignored, e.g. --mode attn512,attn2048,attn8192.
//
// Each revision's assembly/ is compiled (baseline or relaxed SIMD, as the Node running this supports)
// into a temporary folder; each gets its own memory with the same random weights (every f16 scale a
// small normal value), cycled through --ws MiB so they stream from DRAM as in a model, and the same
// activations. The outputs of the two must be the same bits (the script says how many differ) before
// the medians and minimums of the call times mean anything.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: opt } = parseArgs({
  options: {
    base: { type: "string", default: "HEAD" },
    head: { type: "string", default: "wt" },
    simd: { type: "string" },
    formats: { type: "string", default: "Q4_K,Q6_K,Q4_0" },
    shape: { type: "string", default: "4096x4096" },
    mode: { type: "string", default: "matvec" },
    calls: { type: "string", default: "300" },
    ws: { type: "string", default: "96" },
    "base-flags": { type: "string" },
    "head-flags": { type: "string" },
  },
});

/** ggml type id, block elements, block bytes, byte offsets of the block's f16 scales. */
const FORMATS = {
  Q4_0: [2, 32, 18, [0]],
  Q5_0: [6, 32, 22, [0]],
  Q8_0: [8, 32, 34, [0]],
  Q4_K: [12, 256, 144, [0, 2]],
  Q5_K: [13, 256, 176, [0, 2]],
  Q6_K: [14, 256, 210, [208]],
};

/** As src/wasm/features.ts, roughly: the relaxed probe validates and its multiply-add fuses. */
function relaxedRuns() {
  const probe = readFileSync(join(root, "build", "probe-relaxed.wasm"));
  if (!WebAssembly.validate(probe)) return false;
  const madd = new WebAssembly.Instance(new WebAssembly.Module(probe)).exports.probe_madd;
  return madd() === (0xa8800000 | 0);
}
const simd = opt.simd ?? (relaxedRuns() ? "relaxed" : "simd");

/** As src/wasm/features.ts fusedDot: relaxed_dot_i8x16_i7x16_add_s is one vpdpbusd (1), else 0. */
function autoFlags() {
  if (simd === "simd") return 0;
  const probe = readFileSync(join(root, "build", "probe-relaxed.wasm"));
  const lowering = new WebAssembly.Instance(new WebAssembly.Module(probe)).exports.probe_dot_lowering;
  return lowering && lowering() === 4 * 255 * 127 ? 1 : 0;
}
const flagsOf = (v) => (v === undefined ? autoFlags() : Number(v));

/** Compile assembly/ of `rev` ("wt" = the work tree) for `simd`; returns the module bytes. */
function kernels(rev) {
  const dir = mkdtempSync(join(tmpdir(), "woolly-ab-"));
  try {
    if (rev === "wt") execFileSync("cp", ["-r", join(root, "assembly"), join(root, "asconfig.json"), dir]);
    else if (rev.startsWith("dir:")) execFileSync("cp", ["-r", join(rev.slice(4), "assembly"), join(rev.slice(4), "asconfig.json"), dir]);
    else execFileSync("sh", ["-c", `git -C "${root}" archive "${rev}" assembly asconfig.json | tar -x -C "${dir}"`]);
    symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
    const out = join(dir, "k.wasm");
    execFileSync(join(root, "node_modules", ".bin", "asc"), ["--config", "asconfig.json", "--target", simd, "--outFile", out], { cwd: dir });
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let seed = 12345;
const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0);

/**
 * `opt.calls` timed calls of each run, alternating, then each run's sorted times and how many output
 * words differ from the first run's (runs: { label, call, out, ms }, already warmed up).
 */
function timeAlternating(runs) {
  for (let i = 0; i < Number(opt.calls); i++) {
    for (const r of runs) {
      const t0 = performance.now();
      r.call();
      r.ms.push(performance.now() - t0);
    }
  }
  const ref = runs[0].out();
  return runs.map((r) => {
    const o = r.out();
    let differ = 0;
    for (let i = 0; i < o.length; i++) if (o[i] !== ref[i]) differ++;
    return { r, s: r.ms.sort((a, b) => a - b), differ };
  });
}

function bench(name, [type, blockElements, blockBytes, scales], variants, mode) {
  const [rows, cols] = opt.shape.split("x").map(Number);
  if (mode !== "matvec" && !/^matmul[1-9][0-9]*$/.test(mode)) throw new Error(`--mode: ${mode} is not matvec or matmulN`);
  const ncols = mode === "matvec" ? 1 : Number(mode.slice("matmul".length));
  const rowBytes = (cols / blockElements) * blockBytes;
  const matBytes = rows * rowBytes;
  const mats = Math.max(1, Math.ceil((Number(opt.ws) << 20) / matBytes));
  const w = new Uint8Array(matBytes * mats);
  for (let i = 0; i < w.length; i++) w[i] = rnd() >>> 24;
  for (let b = 0; b < w.length / blockBytes; b++) {
    for (const o of scales) {
      const h = 0x2000 + (rnd() & 0xfff);
      w[b * blockBytes + o] = h & 0xff;
      w[b * blockBytes + o + 1] = h >> 8;
    }
  }
  const x = new Float32Array(cols * ncols).map(() => rnd() / 2 ** 32 - 0.5);
  const runs = variants.map(([label, bytes, flags]) => {
    const memory = new WebAssembly.Memory({ initial: Math.ceil((w.length + (64 << 20)) / 65536), maximum: 65536 });
    const k = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
    k.set_kernel_flags?.(flags);
    const W = 1 << 20;
    new Uint8Array(memory.buffer).set(w, W);
    const X = W + w.length + 4096;
    const act = k.act_bytes(type, cols);
    const XQ = X + x.length * 4 + 4096;
    const Y = XQ + act * ncols + 4096;
    new Float32Array(memory.buffer, X, x.length).set(x);
    for (let c = 0; c < ncols; c++) k.quantize_act(type, X + c * cols * 4, XQ + c * act, cols);
    let m = 0;
    const call = () => {
      const wm = W + m * matBytes;
      m = (m + 1) % mats;
      if (ncols === 1) k.matvec(type, wm, rowBytes, XQ, Y, cols, 0, rows);
      else k.matmul(type, wm, rowBytes, XQ, act, Y, rows, cols, 0, rows, ncols);
    };
    return { label, call, out: () => new Uint32Array(memory.buffer, Y, rows * ncols).slice(), ms: [] };
  });
  for (const r of runs) for (let i = 0; i < mats + 2; i++) r.call();
  for (const { r, s, differ } of timeAlternating(runs)) {
    const med = s[s.length >> 1];
    console.log(
      `${name.padEnd(5)} ${opt.shape} ${mode.padEnd(10)} ${r.label.padEnd(12)} median ${med.toFixed(3)} ms  min ${s[0].toFixed(3)} ms  ` +
        `${(matBytes / med / 1e6).toFixed(2)} GB/s  ${((ncols * 1000) / med).toFixed(0)} columns/s  outputs differing from ${runs[0].label}: ${differ}`,
    );
  }
}

/** Attention of one token over nPos positions (mode attnN, attnpN, attnq8N), the revisions alternating. */
function benchAttention(mode, variants) {
  const m = /^attn(p|q8)?([1-9][0-9]*)$/.exec(mode);
  const kind = m[1] ?? "", nPos = Number(m[2]);
  const nHeads = 32, nKv = 4, hd = 64, kvDim = nKv * hd;
  const rnd4 = () => (rnd() / 2 ** 32 - 0.5) * 4;
  const kf = new Float32Array(nPos * kvDim).map(rnd4), vf = new Float32Array(nPos * kvDim).map(rnd4);
  const qf = new Float32Array(nHeads * hd).map(rnd4);
  const scale = Math.fround(1 / Math.sqrt(hd));
  const runs = variants.map(([label, bytes]) => {
    const cache = nPos * kvDim * 4;
    const memory = new WebAssembly.Memory({ initial: Math.ceil((4 * cache + (8 << 20)) / 65536), maximum: 65536 });
    const k = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
    const F = 1 << 20, KC = F + cache + 4096, VC = KC + cache + 4096, Q = VC + cache + 4096;
    const OUT = Q + nHeads * hd * 4 + 4096, SC = OUT + nHeads * hd * 4 + 4096, QQ = SC + nHeads * nPos * 4 + 4096;
    const f = new Float32Array(memory.buffer);
    for (const [src, dst] of [[kf, KC], [vf, VC]]) {
      f.set(src, F >> 2);
      if (kind === "q8") k.kv_quantize_q8_0(F, dst, nPos * kvDim);
      else k.f32_to_f16(F, dst, nPos * kvDim);
    }
    f.set(qf, Q >> 2);
    const call = kind === "q8"
      ? () => k.attention_q8(Q, KC, VC, OUT, SC, QQ, nHeads, nKv, hd, nPos, scale, 0, 0, nHeads)
      : () => k.attention(Q, KC, VC, OUT, SC, nHeads, nKv, hd, nPos, scale, 0, kind === "p" ? 1 : 0, 0, nHeads);
    return { label, call, out: () => new Uint32Array(memory.buffer, OUT, nHeads * hd).slice(), ms: [] };
  });
  for (const r of runs) for (let i = 0; i < 3; i++) r.call();
  for (const { r, s, differ } of timeAlternating(runs)) {
    console.log(
      `attn ${(kind || "f16") + (kind === "p" ? " prompt" : "")} n=${nPos} ${r.label.padEnd(12)} median ${s[s.length >> 1].toFixed(3)} ms  ` +
        `min ${s[0].toFixed(3)} ms  outputs differing from ${runs[0].label}: ${differ}`,
    );
  }
}

const baseFlags = flagsOf(opt["base-flags"]);
const headFlags = flagsOf(opt["head-flags"]);
const variants = [
  [`${opt.base} f${baseFlags}`, kernels(opt.base), baseFlags],
  [`${opt.head === "wt" ? "work tree" : opt.head} f${headFlags}`, kernels(opt.head), headFlags],
];
console.log(`kernel A/B, ${simd} build, node ${process.versions.node}, ${opt.calls} alternating calls each, kernel flags ${baseFlags} / ${headFlags}`);
const modes = opt.mode.split(",");
for (const mode of modes.filter((x) => x.startsWith("attn"))) benchAttention(mode, variants);
if (modes.some((x) => !x.startsWith("attn"))) for (const f of opt.formats.split(",")) {
  if (!(f in FORMATS)) throw new Error(`--formats: ${f} is not one of ${Object.keys(FORMATS).join(", ")}`);
  for (const mode of modes.filter((x) => !x.startsWith("attn"))) bench(f, FORMATS[f], variants, mode);
}
