// Entry of the AssemblyScript kernels module: every export the TypeScript layer calls.
export * from "./arena";
