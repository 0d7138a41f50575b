// Saving and restoring the model's session over HTTP, as llama.cpp's server names it:
//   POST /slots/0?action=save     { "filename": "chat-42.bin" }  → { id_slot, filename, n_saved, n_written, timings }
//   POST /slots/0?action=restore  { "filename": "chat-42.bin" }  → { id_slot, filename, n_restored, n_read, timings }
//   POST /slots/0?action=erase                                    → { id_slot, n_erased }
// Woolly serves one sequence, so the one slot is 0. Files live in the directory the server was started
// with (`slotSavePath`, `--slot-save-path`); without one, saving is off. A filename is a plain name (no
// path separators, no leading dot), so a client can never read or write outside that directory. A
// snapshot of another model, or altered bytes, is refused (400) and the model keeps its state.
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ServerResponse } from "node:http";
import { SessionError } from "../errors.js";
import { sessionTokenCount } from "../model/session.js";
import { sendJson, ServerError } from "./http.js";
import type { EndpointContext } from "./openai.js";

const SLOT_PATH = /^\/slots\/(\d+)$/;

/** The slot id of a /slots/{id} path, or undefined when the path is something else. */
export function slotOf(path: string): number | undefined {
  const m = SLOT_PATH.exec(path);
  return m ? Number(m[1]) : undefined;
}

function filenameOf(body: Record<string, unknown>): string {
  const f = body.filename;
  if (typeof f !== "string" || !/^[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,127}$/.test(f)) {
    throw new ServerError("invalid_request", "filename must be a plain file name: letters, digits, '_', '-', '.', not starting with '.', at most 128 characters", { param: "filename" });
  }
  return f;
}

export async function slots(ctx: EndpointContext, dir: string | undefined, id: number, action: string | null, body: Record<string, unknown>, res: ServerResponse): Promise<void> {
  if (id !== 0) throw new ServerError("not_found", `no slot ${id}: this server has one, slot 0`, { param: "id_slot" });
  const t0 = performance.now();
  if (action === "erase") {
    const n = await ctx.model.eraseSession();
    sendJson(res, 200, { id_slot: 0, n_erased: n });
    return;
  }
  if (action !== "save" && action !== "restore") throw new ServerError("invalid_request", `action must be save, restore or erase; got ${JSON.stringify(action)}`, { param: "action" });
  if (dir === undefined) throw new ServerError("invalid_request", "saving slots is off: start the server with a slot directory (--slot-save-path)", { code: "slot_save_disabled" });
  const filename = filenameOf(body);
  const path = join(dir, filename);
  if (action === "save") {
    const bytes = await ctx.model.saveSession();
    // Written beside, then renamed: a crash never leaves a half-written snapshot under the name.
    await writeFile(path + ".partial", bytes);
    await rename(path + ".partial", path);
    const tokens = sessionTokenCount(bytes);
    sendJson(res, 200, { id_slot: 0, filename, n_saved: tokens, n_written: bytes.length, timings: { save_ms: performance.now() - t0 } });
    return;
  }
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch {
    throw new ServerError("not_found", `no saved slot ${JSON.stringify(filename)}`, { param: "filename" });
  }
  try {
    await ctx.model.loadSession(bytes);
  } catch (e) {
    if (e instanceof SessionError) throw new ServerError("invalid_request", `${filename} cannot be restored: ${e.message}`, { param: "filename", code: e.kind, cause: e });
    throw e;
  }
  const tokens = sessionTokenCount(bytes);
  sendJson(res, 200, { id_slot: 0, filename, n_restored: tokens, n_read: bytes.length, timings: { restore_ms: performance.now() - t0 } });
}
