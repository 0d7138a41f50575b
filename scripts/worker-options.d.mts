import type { BuildOptions } from "esbuild";
/** esbuild options of the thread pool's worker script (see worker-options.mjs). */
export function workerBuildOptions(root: string): BuildOptions & { write: false };
