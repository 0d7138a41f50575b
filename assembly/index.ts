// Entry of the AssemblyScript kernels module: every export the TypeScript layer calls.
export * from "./arena";
export * from "./dispatch";
export * from "./ops";
