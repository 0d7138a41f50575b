// assembly/ops.ts: element-wise and attention kernels of the forward pass.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface OpsExports {}
export const OPS_EXPORT_NAMES = [] satisfies (keyof OpsExports)[];
