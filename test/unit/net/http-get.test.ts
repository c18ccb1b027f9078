import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { HttpNetworkError, httpGet } from "../../../src/net/http-get.js";

async function bodyOf(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

describe("httpGet", () => {
  let server: Server;
  let base: string;

  before(async () => {
    server = createServer((request, response) => {
      const path = request.url ?? "";
      if (path === "/file") {
        response.end("the file");
      } else if (path === "/moved") {
        // Relative, as mirrors answer: resolved against the URL that answered.
        response.writeHead(302, { location: "dir/../file" });
        response.end("moved");
      } else if (path === "/moved-twice") {
        response.writeHead(301, { location: `${base}/moved` });
        response.end();
      } else if (path === "/loop") {
        response.writeHead(307, { location: "/loop" });
        response.end();
      } else if (path === "/cut") {
        response.writeHead(200, { "content-length": "1000" });
        response.write("part");
        setTimeout(() => response.destroy(), 20);
      } else {
        response.statusCode = 404;
        response.end("not here");
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  });

  after(() => {
    server.close();
  });

  test("gives the status and the body", async () => {
    const response = await httpGet(`${base}/file`, new AbortController().signal);
    assert.equal(response.status, 200);
    assert.equal(response.url, `${base}/file`);
    assert.equal(await bodyOf(response.body), "the file");
  });

  test("follows redirects, relative ones too, and names the URL that answered", async () => {
    const response = await httpGet(`${base}/moved-twice`, new AbortController().signal);
    assert.equal(response.status, 200);
    assert.equal(response.url, `${base}/file`);
    assert.equal(await bodyOf(response.body), "the file");
  });

  test("a 404 is an answer, not an error", async () => {
    const response = await httpGet(`${base}/missing`, new AbortController().signal);
    assert.equal(response.status, 404);
    response.discard();
  });

  test("a redirect loop ends in a network error", async () => {
    await assert.rejects(httpGet(`${base}/loop`, new AbortController().signal), HttpNetworkError);
  });

  test("a refused connection is a network error with the system's reason as its cause, and no syscall", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const address = closed.address();
    const port = typeof address === "object" && address ? address.port : 0;
    await new Promise((resolve) => closed.close(resolve));
    const error = await httpGet(`http://127.0.0.1:${port}/file`, new AbortController().signal).catch(
      (e: unknown) => e,
    );
    assert.ok(error instanceof HttpNetworkError);
    assert.equal("syscall" in error, false);
    assert.match((error.cause as Error).message, /ECONNREFUSED/);
  });

  test("a body cut short is a network error", async () => {
    const response = await httpGet(`${base}/cut`, new AbortController().signal);
    await assert.rejects(bodyOf(response.body), HttpNetworkError);
  });

  test("an abort rejects with the signal's reason, before the answer or while the body streams", async () => {
    const early = new AbortController();
    const reason = new Error("stop");
    early.abort(reason);
    await assert.rejects(httpGet(`${base}/file`, early.signal), (error) => error === reason);
    const late = new AbortController();
    const response = await httpGet(`${base}/cut`, late.signal);
    const reading = bodyOf(response.body);
    late.abort(reason);
    await assert.rejects(reading, (error) => error === reason);
  });

  test("a scheme it cannot fetch is a network error", async () => {
    await assert.rejects(httpGet("ftp://example.org/file", new AbortController().signal), HttpNetworkError);
  });
});
