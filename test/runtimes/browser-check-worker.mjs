// The shared checks inside a module worker (see browser-check.mjs).
import * as woolly from "/dist/index.js";
import { runChecks } from "./checks.mjs";

self.onmessage = async ({ data: { threads } }) => {
  try {
    const report = await runChecks({
      woolly,
      threads,
      runtime: "chromium worker",
      load: (name, options) => woolly.loadModel(new URL(`/fixtures/models/${name}.gguf`, location.href), options),
      reference: async (name) => (await fetch(`/fixtures/reference/${name}.p1.json`)).json(),
    });
    self.postMessage(report);
  } catch (e) {
    self.postMessage({ ok: false, failures: [String(e?.stack ?? e)], runs: [] });
  }
};
