// A local HTTP server on 127.0.0.1 for the download and split tests: serves several files and a
// Hugging Face style listing, and misbehaves on demand — ignores Range, lies about lengths, sends
// checksums, and stops at a given byte until the test says to continue or to drop the connection
// (so "interrupted mid-file" is driven by the test, never by a timer).

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Behaviour {
  /** Honour Range requests (default true). */
  range?: boolean;
  /** Send only the first N bytes of the file as if they were all of it (a consistent, wrong length). */
  truncateTo?: number;
  /** Headers added to every answer for the file (etag, x-linked-etag). */
  headers?: Record<string, string>;
  /** Stop after sending the body up to this absolute file offset, until release() is called. */
  pauseAt?: number;
  /** The file's ETag: sent, and compared with If-Range (a mismatch answers the whole file). */
  etag?: string;
}

export interface Request {
  readonly path: string;
  readonly range: string | undefined;
  readonly ifRange: string | undefined;
  /** Body bytes sent in answer. */
  sent: number;
}

export interface DownloadServer {
  readonly base: string;
  readonly files: Map<string, Uint8Array>;
  readonly behaviour: Map<string, Behaviour>;
  readonly requests: Request[];
  /** Resolves once a response has stopped at its pauseAt. */
  paused(): Promise<void>;
  /** Lets the paused response go on ("continue") or cuts its connection ("drop"). */
  release(how: "continue" | "drop"): void;
  close(): Promise<void>;
}

export async function startDownloadServer(): Promise<DownloadServer> {
  const files = new Map<string, Uint8Array>();
  const behaviour = new Map<string, Behaviour>();
  const requests: Request[] = [];
  let onPaused: (() => void) | undefined;
  let pausedPromise = new Promise<void>((r) => (onPaused = r));
  let release: ((how: "continue" | "drop") => void) | undefined;

  const write = (res: ServerResponse, bytes: Uint8Array): Promise<void> =>
    new Promise((resolve, reject) => res.write(bytes, (e) => (e ? reject(e) : resolve())));

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const record: Request = { path, range: req.headers.range, ifRange: String(req.headers["if-range"] ?? "") || undefined, sent: 0 };
    requests.push(record);
    const file = files.get(path);
    if (file === undefined) {
      res.writeHead(404).end();
      return;
    }
    if (path.startsWith("/api/")) {
      res.writeHead(200, { "content-type": "application/json" }).end(file);
      return;
    }
    const b = behaviour.get(path) ?? {};
    // Pages and scripts for the browser test; a module script needs a JavaScript MIME type.
    const type = path.endsWith(".html") ? "text/html" : path.endsWith(".js") ? "text/javascript" : "application/octet-stream";
    res.setHeader("content-type", type);
    const data = b.truncateTo === undefined ? file : file.subarray(0, b.truncateTo);
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    let start = 0;
    let end = data.length - 1;
    if (b.etag !== undefined) res.setHeader("etag", b.etag);
    const changed = req.headers["if-range"] !== undefined && req.headers["if-range"] !== b.etag;
    if (b.range !== false && m && !changed) {
      start = Number(m[1]);
      if (m[2] !== "") end = Math.min(end, Number(m[2]));
      if (start >= data.length) {
        res.writeHead(416, { "content-range": `bytes */${data.length}`, ...b.headers }).end();
        return;
      }
      res.writeHead(206, { "content-range": `bytes ${start}-${end}/${data.length}`, "content-length": end - start + 1, ...b.headers });
    } else {
      res.writeHead(200, { "content-length": data.length, ...b.headers });
    }
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    let pos = start;
    const stopAt = b.pauseAt !== undefined && b.pauseAt > start && b.pauseAt <= end ? b.pauseAt : undefined;
    if (stopAt !== undefined) {
      await write(res, data.subarray(pos, stopAt));
      record.sent += stopAt - pos;
      pos = stopAt;
      const how = await new Promise<"continue" | "drop">((resolve) => {
        release = resolve;
        onPaused?.();
      });
      pausedPromise = new Promise<void>((r) => (onPaused = r));
      if (how === "drop") {
        res.socket?.destroy();
        return;
      }
    }
    for (; pos <= end; pos += 65536) {
      const piece = data.subarray(pos, Math.min(end + 1, pos + 65536));
      await write(res, piece);
      record.sent += piece.length;
    }
    res.end();
  }

  const server = createServer((req, res) => {
    answer(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    files,
    behaviour,
    requests,
    paused: () => pausedPromise,
    release(how) {
      const r = release;
      release = undefined;
      r?.(how);
    },
    close: () =>
      new Promise<void>((resolve) => {
        release?.("drop");
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
