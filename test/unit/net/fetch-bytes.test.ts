import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { fetchBytes } from "../../../src/net/fetch-bytes.js";

describe("fetchBytes", () => {
  let server: Server;
  let base: string;

  before(async () => {
    server = createServer((request, response) => {
      if (request.url === "/InRelease") response.end("signed text");
      else if (request.url === "/moved") response.writeHead(301, { location: "/InRelease" }).end();
      else if (request.url === "/cut") {
        response.writeHead(200, { "content-length": "100" });
        response.write("part");
        setTimeout(() => response.destroy(), 20);
      } else if (request.url === "/stall") {
        response.writeHead(200, { "content-length": "100" });
        response.write("part");
      } else if (request.url === "/silent") {
        // Accepts the request and never answers it.
      } else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  test("gives the document's bytes, through redirects", async () => {
    assert.equal((await fetchBytes(`${base}/InRelease`, "the file")).toString(), "signed text");
    assert.equal((await fetchBytes(`${base}/moved`, "the file")).toString(), "signed text");
  });

  test("a 404 names the document, the URL and the status, with a hint", async () => {
    await assert.rejects(fetchBytes(`${base}/missing`, "the trixie InRelease file"), {
      code: "net.http-status",
      message: `Cannot download the trixie InRelease file from ${base}/missing: HTTP 404`,
      hint: /--suite/,
    });
  });

  test("a refused connection or a body cut short says why", async () => {
    await assert.rejects(fetchBytes("http://127.0.0.1:1/InRelease", "the file"), {
      code: "net.fetch",
      message: /^Cannot download the file from http:\/\/127\.0\.0\.1:1\/InRelease: connect ECONNREFUSED/,
    });
    await assert.rejects(fetchBytes(`${base}/cut`, "the file"), { code: "net.fetch" });
  });

  test("a mirror that answers nothing, or stalls in the body, fails within the timeout, saying so", async () => {
    for (const path of ["/silent", "/stall"]) {
      await assert.rejects(fetchBytes(`${base}${path}`, "the file", 200), {
        code: "net.fetch",
        message: `Cannot download the file from ${base}${path}: no complete answer within 0.2 s`,
      });
    }
  });
});
