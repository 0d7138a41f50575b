// npm run soak: the server's soak test at length (test/server-soak.test.ts with SOAK=long), then
// its figures. Loopback only; bounded by the request count (32 clients × --requests each).
//   node scripts/soak.mjs [--requests N] [--seed S]
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const dir = mkdtempSync(join(tmpdir(), "woolly-soak-"));
const report = join(dir, "report.json");
try {
  const run = spawnSync("npx", ["vitest", "run", "test/server-soak.test.ts"], {
    stdio: "inherit",
    env: { ...process.env, SOAK: "long", SOAK_REQUESTS: option("requests", "120"), SOAK_SEED: option("seed", "16"), SOAK_REPORT: report },
  });
  try {
    process.stdout.write(`\nsoak figures:\n${readFileSync(report, "utf8")}`);
  } catch {
    process.stderr.write("soak: the test wrote no figures (it failed before the end; see above)\n");
  }
  process.exitCode = run.status ?? 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
