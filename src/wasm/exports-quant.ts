// assembly/dispatch.ts: the generic quantized-kernel entry points (see assembly/README.md).
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface QuantExports {}
export const QUANT_EXPORT_NAMES = [] satisfies (keyof QuantExports)[];
