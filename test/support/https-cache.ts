/**
 * A binary cache served over HTTPS for the substitution tests: a throw-away CA and a server
 * certificate made with openssl, and a static file server on 127.0.0.1 that records each connection
 * and request. The guest reaches it as 10.0.2.2 (QEMU user networking's host).
 */
import { execFile } from "node:child_process";
import { readFile, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join, normalize } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface TestCa {
  readonly certFile: string;
  readonly keyFile: string;
}

/** A self-signed CA (EC P-256), valid for two days. */
export async function makeTestCa(dir: string, name: string): Promise<TestCa> {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}.key`);
  await run("openssl", [
    ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
    ...["-keyout", keyFile, "-out", certFile, "-days", "2", "-subj", `/CN=${name}`],
    ...["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
  ]);
  return { certFile, keyFile };
}

/** A server certificate signed by `ca` for these IP addresses. */
export async function makeServerCert(
  dir: string,
  ca: TestCa,
  ips: readonly string[],
): Promise<{ cert: string; key: string }> {
  const keyFile = join(dir, "server.key");
  const csr = join(dir, "server.csr");
  const certFile = join(dir, "server.pem");
  const ext = join(dir, "server.ext");
  await run("openssl", [
    ...["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
    ...["-keyout", keyFile, "-out", csr, "-subj", `/CN=${ips[0]}`],
  ]);
  await writeFile(
    ext,
    `subjectAltName=${ips.map((ip) => `IP:${ip}`).join(",")}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`,
  );
  await run("openssl", [
    ...["x509", "-req", "-in", csr, "-CA", ca.certFile, "-CAkey", ca.keyFile, "-CAcreateserial"],
    ...["-out", certFile, "-days", "2", "-extfile", ext],
  ]);
  return { cert: await readFile(certFile, "utf8"), key: await readFile(keyFile, "utf8") };
}

export interface CacheRequest {
  readonly method: string;
  readonly path: string;
  readonly status: number;
}

export interface HttpsCache {
  readonly port: number;
  readonly requests: CacheRequest[];
  /**
   * TCP connections accepted. A client that rejects the certificate is seen only as a connection
   * without a request: curl with GnuTLS checks the certificate once the handshake is done.
   */
  readonly connections: { accepted: number };
  close(): Promise<void>;
}

/** Serves the files of `root` (GET and HEAD) over HTTPS on 127.0.0.1, on a free port. */
export async function serveHttpsCache(root: string, tls: { cert: string; key: string }): Promise<HttpsCache> {
  const requests: CacheRequest[] = [];
  const connections = { accepted: 0 };
  const server: Server = createServer(tls, async (request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url ?? "/", "https://x").pathname));
    const file = join(root, path);
    const info = path.includes("..") ? undefined : await stat(file).catch(() => undefined);
    const status = info?.isFile() ? 200 : 404;
    requests.push({ method: request.method ?? "", path, status });
    if (status === 404) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-length": String(info?.size ?? 0) });
    response.end(request.method === "HEAD" ? undefined : await readFile(file));
  });
  server.on("connection", () => connections.accepted++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
