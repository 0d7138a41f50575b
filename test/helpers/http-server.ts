// A local HTTP server on 127.0.0.1 serving one file, with or without Range support, counting the
// body bytes it sends (tests must not need the network).

import { createServer, type Server } from "node:http";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";

export interface TestServer {
  readonly url: string;
  /** Body bytes written so far. */
  bytesSent(): number;
  requests(): number;
  close(): Promise<void>;
}

export async function serveFile(path: string, options: { range: boolean }): Promise<TestServer> {
  const data = readFileSync(path);
  let sent = 0;
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests++;
    if (req.url !== "/model.gguf") {
      res.writeHead(404).end();
      return;
    }
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    if (options.range && m) {
      const start = Number(m[1]);
      const end = Math.min(data.length - 1, m[2] === "" ? data.length - 1 : Number(m[2]));
      if (start >= data.length) {
        res.writeHead(416, { "Content-Range": `bytes */${data.length}` }).end();
        return;
      }
      const body = data.subarray(start, end + 1);
      sent += body.length;
      res.writeHead(206, { "Content-Range": `bytes ${start}-${end}/${data.length}`, "Content-Length": body.length });
      res.end(body);
      return;
    }
    // No Range support: the whole body, written in 64 KiB pieces with backpressure so the count
    // reflects what the client actually pulled (roughly: plus socket buffers).
    res.writeHead(200, { "Content-Length": data.length });
    let pos = 0;
    const pump = (): void => {
      while (pos < data.length) {
        const piece = data.subarray(pos, pos + 65536);
        pos += piece.length;
        sent += piece.length;
        if (!res.write(piece)) {
          res.once("drain", pump);
          return;
        }
      }
      res.end();
    };
    res.on("close", () => {
      pos = data.length;
    });
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/model.gguf`,
    bytesSent: () => sent,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
