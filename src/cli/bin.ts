// The `woolly` executable (dist/cli.js): runs the command line with the process's own streams.
// Kept apart from main.ts so that importing main() (tests) never starts a command.
import { main } from "./main.js";
import type { CliIo } from "./run.js";

const stdio: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  errIsTTY: process.stderr.isTTY === true,
};

main(process.argv.slice(2), stdio).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`woolly: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
