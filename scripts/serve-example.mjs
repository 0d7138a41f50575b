// Serves the browser example: examples/browser at /, the built package (dist/) at /dist/, with the
// COOP/COEP headers that make the page cross-origin isolated, so SharedArrayBuffer — and with it
// Woolly's threads — is available. Loopback only.
//   npm run example                           http://127.0.0.1:8080/
//   node scripts/serve-example.mjs --port 0 [--mount /url/=DIR ...]   (port 0: any free port)
// Prints `Serving http://127.0.0.1:PORT/` once listening (the runtime tests read that line).
import { createServer } from "node:http";
import { createReadStream, statSync } from "node:fs";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const args = process.argv.slice(2);
const portArg = args.indexOf("--port");
const port = portArg >= 0 ? Number(args[portArg + 1]) : 8080;

/** URL prefix → folder, longest prefix first. */
const mounts = [
  ["/dist/", join(root, "dist")],
  ["/", join(root, "examples", "browser")],
];
for (let i = 0; i < args.length; i++) {
  if (args[i] !== "--mount") continue;
  const [prefix, dir] = args[i + 1].split("=");
  mounts.push([prefix.endsWith("/") ? prefix : prefix + "/", resolve(dir)]);
}
mounts.sort((a, b) => b[0].length - a[0].length);

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

function resolvePath(pathname) {
  for (const [prefix, dir] of mounts) {
    if (!pathname.startsWith(prefix)) continue;
    const rel = normalize(decodeURIComponent(pathname.slice(prefix.length)));
    const file = join(dir, rel);
    // Never serve outside the mounted folder (../ in the URL).
    if (file !== dir && !file.startsWith(dir + sep)) return undefined;
    return file;
  }
  return undefined;
}

const server = createServer((req, res) => {
  const headers = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
  };
  const url = new URL(req.url ?? "/", "http://localhost");
  let file = resolvePath(url.pathname);
  let st;
  try {
    st = file && statSync(file);
    if (st && st.isDirectory()) {
      file = join(file, "index.html");
      st = statSync(file);
    }
  } catch {
    st = undefined;
  }
  if (!file || !st || !st.isFile() || (req.method !== "GET" && req.method !== "HEAD")) {
    res.writeHead(404, { ...headers, "Content-Type": "text/plain" });
    res.end("not found\n");
    return;
  }
  headers["Content-Type"] = TYPES[extname(file)] ?? "application/octet-stream";
  headers["Accept-Ranges"] = "bytes";
  // Range requests: loadModel(url) reads a GGUF file piece by piece.
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? "");
  let start = 0;
  let end = st.size - 1;
  let status = 200;
  if (range && (range[1] !== "" || range[2] !== "")) {
    if (range[1] === "") {
      start = Math.max(0, st.size - Number(range[2]));
    } else {
      start = Number(range[1]);
      if (range[2] !== "") end = Math.min(end, Number(range[2]));
    }
    if (start > end || start >= st.size) {
      res.writeHead(416, { ...headers, "Content-Range": `bytes */${st.size}` });
      res.end();
      return;
    }
    status = 206;
    headers["Content-Range"] = `bytes ${start}-${end}/${st.size}`;
  }
  headers["Content-Length"] = String(end - start + 1);
  res.writeHead(status, headers);
  if (req.method === "HEAD" || st.size === 0) {
    res.end();
    return;
  }
  createReadStream(file, { start, end }).pipe(res);
});

server.listen(port, "127.0.0.1", () => {
  const address = server.address();
  console.log(`Serving http://127.0.0.1:${typeof address === "object" && address ? address.port : port}/`);
});
