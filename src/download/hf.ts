// Hugging Face references:
//   hf:owner/repo/path/file.gguf   -> {endpoint}/owner/repo/resolve/main/path/file.gguf
//   hf:owner/repo:Q4_K_M           -> the repo's .gguf file of that quantization, picked from the
//                                     listing at {endpoint}/api/models/owner/repo (its `siblings`)
//   hf:owner/repo                  -> Q4_K_M, else the first .gguf file (as llama.cpp's -hf does)
// The endpoint is https://huggingface.co unless the caller (or HF_ENDPOINT, as Hugging Face's own
// tools read it) says otherwise; tests point it at a local server.

import { DownloadError } from "../errors.js";
import { parseSplitName } from "../gguf/split.js";

export const HF_PREFIX = "hf:";
const DEFAULT_QUANT = "Q4_K_M";

export function isHfReference(ref: string): boolean {
  return ref.startsWith(HF_PREFIX);
}

export function hfEndpoint(given?: string): string {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return (given ?? env?.HF_ENDPOINT ?? "https://huggingface.co").replace(/\/+$/, "");
}

export interface HfReference {
  readonly repo: string;
  /** A file path in the repo, or undefined when a quantization is to be picked. */
  readonly file: string | undefined;
  readonly quant: string | undefined;
}

export function parseHfReference(ref: string): HfReference {
  const body = ref.slice(HF_PREFIX.length);
  const bad = () => new DownloadError("bad_reference", ref, `"${ref}" is not a Hugging Face reference: write hf:owner/repo/file.gguf or hf:owner/repo:QUANT`);
  const colon = body.indexOf(":");
  const path = colon < 0 ? body : body.slice(0, colon);
  const quant = colon < 0 ? undefined : body.slice(colon + 1);
  const segs = path.split("/");
  if (segs.length < 2 || segs.some((s) => s === "" || s === "." || s === "..") || quant === "") throw bad();
  const repo = segs.slice(0, 2).join("/");
  const file = segs.length > 2 ? segs.slice(2).join("/") : undefined;
  if (file !== undefined && quant !== undefined) throw bad();
  return { repo, file, quant };
}

/** The download URL of a file in a repo. */
export function hfFileUrl(endpoint: string, repo: string, file: string): string {
  return `${endpoint}/${repo}/resolve/main/${file.split("/").map(encodeURIComponent).join("/")}`;
}

/**
 * The file of quantization `quant` among a repo's files: .gguf files whose name holds the quant as a
 * whole word (`model-Q4_K_M.gguf`, `Q4_K_M/model-Q4_K_M-00001-of-00002.gguf`), never an mmproj
 * (vision projector) file; of a split set, its first part; of several, the shortest name.
 */
export function pickQuantFile(files: readonly string[], quant: string | undefined): string | undefined {
  const ggufs = files.filter((f) => f.toLowerCase().endsWith(".gguf") && !/mmproj/i.test(f));
  const firstParts = ggufs.filter((f) => {
    const s = parseSplitName(f.split("/").pop() ?? f);
    return s === undefined || s.no === 0;
  });
  const matching = (q: string) => {
    const word = new RegExp(`(^|[^A-Za-z0-9])${q.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}([^A-Za-z0-9]|$)`, "i");
    return firstParts.filter((f) => word.test(f)).sort((a, b) => a.length - b.length || (a < b ? -1 : 1));
  };
  if (quant !== undefined) return matching(quant)[0];
  return matching(DEFAULT_QUANT)[0] ?? [...firstParts].sort()[0];
}

/** The repo's file names from its listing, or undefined when the listing cannot be fetched (offline). */
export async function hfListing(endpoint: string, repo: string, fetchFn: typeof fetch, signal?: AbortSignal): Promise<string[] | undefined> {
  const url = `${endpoint}/api/models/${repo}`;
  let res: Response;
  try {
    res = await fetchFn(url, { signal });
  } catch (cause) {
    if (signal?.aborted === true) throw new DownloadError("aborted", url, `fetching ${url} was aborted`, { cause });
    return undefined;
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new DownloadError("http", url, `${url}: HTTP ${res.status} ${res.statusText}`, { status: res.status });
  }
  const body = (await res.json()) as { siblings?: { rfilename?: unknown }[] };
  const names = (body.siblings ?? []).map((s) => s.rfilename).filter((n): n is string => typeof n === "string");
  return names;
}
