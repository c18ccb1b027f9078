import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, utimes, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { LinuxBuilderError } from "../../../../src/errors.js";
import { ContentCache, derivedStampKey } from "../../../../src/image/cache/content-cache.js";

const good = Buffer.from("a .deb file's bytes, ".repeat(5000));
// Not a repeat of a short string: a batch written twice or skipped would change the hash.
const large = Buffer.from(Array.from({ length: 3_500_000 }, (_, i) => (i * 7919 + (i >> 11)) & 0xff));
const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

describe("ContentCache", () => {
  let server: Server;
  let base: string;
  let dir: string;
  const hits = new Map<string, number>();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "lb-cache-"));
    server = createServer((request, response) => {
      const path = request.url ?? "";
      const count = (hits.get(path) ?? 0) + 1;
      hits.set(path, count);
      if (path === "/good.deb") {
        response.end(good);
      } else if (path === "/truncated-once.deb") {
        // First attempt: promise the full length, send half, cut the connection.
        if (count === 1) {
          response.writeHead(200, { "content-length": String(good.length) });
          response.write(good.subarray(0, good.length / 2));
          setTimeout(() => response.destroy(), 20);
        } else {
          response.end(good);
        }
      } else if (path === "/stall-once.deb") {
        // First attempt: send a little, then nothing (the connection stays open).
        if (count === 1) {
          response.writeHead(200, { "content-length": String(good.length) });
          response.write(good.subarray(0, 1000));
          setTimeout(() => response.destroy(), 5000);
        } else {
          response.end(good);
        }
      } else if (path === "/large-in-parts.deb") {
        // Several MiB in uneven parts: written to the cache in batches, the last one partial.
        response.writeHead(200, { "content-length": String(large.length) });
        let at = 0;
        const next = () => {
          if (at >= large.length) return void response.end();
          const part = large.subarray(at, at + 300_000 + (at % 7) * 1000);
          at += part.length;
          response.write(part, next);
        };
        next();
      } else if (path === "/slow-but-steady.deb") {
        // A part every 150 ms for longer than the idle timeout (300 ms): never idle that long.
        response.writeHead(200, { "content-length": String(good.length) });
        let at = 0;
        const step = Math.ceil(good.length / 6);
        const next = () => {
          if (at >= good.length) return void response.end();
          response.write(good.subarray(at, at + step));
          at += step;
          setTimeout(next, 150);
        };
        next();
      } else if (path === "/by-hash-missing/good.deb") {
        response.statusCode = 404;
        response.end();
      } else if (path === "/always-short.deb") {
        response.end(good.subarray(0, 100));
      } else if (path === "/tampered.deb") {
        const bad = Buffer.from(good);
        bad[10] = (bad[10] ?? 0) ^ 1;
        response.end(bad);
      } else if (path === "/too-long.deb") {
        response.end(Buffer.concat([good, Buffer.from("extra")]));
      } else {
        response.statusCode = 404;
        response.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  });

  after(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const expected = (path: string) => ({
    url: `${base}${path}`,
    sha256: sha256(good),
    size: good.length,
    label: `pkg ${path}`,
  });

  test("downloads, verifies and then serves from the cache", async () => {
    const cache = new ContentCache(join(dir, "a"));
    let progress = 0;
    let downloads = 0;
    const onDownload = () => downloads++;
    const path = await cache.fetch(expected("/good.deb"), { onBytes: (n) => (progress += n), onDownload });
    assert.deepEqual(await readFile(path), good);
    assert.equal(progress, good.length);
    assert.equal(downloads, 1);
    const before = hits.get("/good.deb");
    assert.equal(await cache.fetch(expected("/good.deb"), { onDownload }), path);
    assert.equal(hits.get("/good.deb"), before, "a cached file is not downloaded again");
    assert.equal(downloads, 1, "nor said to be");
  });

  test("a truncated download is retried and then accepted", async () => {
    const cache = new ContentCache(join(dir, "b"));
    let progress = 0;
    const path = await cache.fetch(expected("/truncated-once.deb"), { onBytes: (n) => (progress += n) });
    assert.deepEqual(await readFile(path), good);
    assert.equal(hits.get("/truncated-once.deb"), 2);
    assert.equal(progress, good.length, "progress of the failed attempt is given back");
  });

  test("a stalled connection is dropped after the idle timeout and tried again", async () => {
    const cache = new ContentCache(join(dir, "stall"));
    const path = await cache.fetch(expected("/stall-once.deb"), { idleTimeoutMs: 300 });
    assert.deepEqual(await readFile(path), good);
    assert.equal(hits.get("/stall-once.deb"), 2);
  });

  test("a download of several MiB in uneven parts is stored whole, byte for byte", async () => {
    const cache = new ContentCache(join(dir, "large"));
    const path = await cache.fetch({
      url: `${base}/large-in-parts.deb`,
      sha256: sha256(large),
      size: large.length,
      label: "pkg large",
    });
    assert.ok((await readFile(path)).equals(large));
  });

  test("a download whose parts keep coming is not dropped, however long it takes in all", async () => {
    const cache = new ContentCache(join(dir, "steady"));
    const path = await cache.fetch(expected("/slow-but-steady.deb"), { idleTimeoutMs: 300, attempts: 1 });
    assert.ok((await readFile(path)).equals(good));
    assert.equal(hits.get("/slow-but-steady.deb"), 1);
  });

  test("a 404 on the by-hash URL falls back to the plain one", async () => {
    const cache = new ContentCache(join(dir, "fallback"));
    const file = { ...expected("/by-hash-missing/good.deb"), fallbackUrl: `${base}/good.deb` };
    assert.deepEqual(await readFile(await cache.fetch(file)), good);
  });

  test("an aborted download stops at once and leaves nothing behind", async () => {
    const cache = new ContentCache(join(dir, "abort"));
    const controller = new AbortController();
    controller.abort(new Error("another download failed"));
    await assert.rejects(
      cache.fetch(expected("/good.deb"), { signal: controller.signal }),
      /another download failed/,
    );
    assert.equal(existsSync(cache.pathOf(sha256(good))), false);
  });

  test("a fetch aborted before its download begins does not say one begins", async () => {
    const cache = new ContentCache(join(dir, "abort-before"));
    const controller = new AbortController();
    controller.abort(new Error("another download failed"));
    let downloads = 0;
    await assert.rejects(
      cache.fetch(expected("/good.deb"), { signal: controller.signal, onDownload: () => downloads++ }),
      /another download failed/,
    );
    assert.equal(downloads, 0, "onDownload would start the composer's threads after it closed");
  });

  test("a download that is always short fails after the attempts, leaving nothing behind", async () => {
    const cache = new ContentCache(join(dir, "c"));
    await assert.rejects(cache.fetch(expected("/always-short.deb"), { attempts: 2 }), (error: unknown) => {
      assert.ok(error instanceof LinuxBuilderError);
      assert.equal(error.code, "cache.download");
      assert.match(error.message, /pkg \/always-short\.deb.*100 of \d+ bytes.*2 attempts/);
      return true;
    });
    assert.equal(existsSync(cache.pathOf(sha256(good))), false);
    assert.deepEqual(await readdir(join(dir, "c", "tmp")), []);
  });

  test("a file with a wrong hash never enters the cache", async () => {
    const cache = new ContentCache(join(dir, "d"));
    await assert.rejects(cache.fetch(expected("/tampered.deb")), (error: unknown) => {
      assert.ok(error instanceof LinuxBuilderError);
      assert.equal(error.code, "cache.hash-mismatch");
      assert.match(error.message, new RegExp(`signed index says ${sha256(good)}`));
      return true;
    });
    assert.equal(existsSync(cache.pathOf(sha256(good))), false);
    assert.deepEqual(await readdir(join(dir, "d", "tmp")), []);
  });

  test("a file larger than promised is refused", async () => {
    const cache = new ContentCache(join(dir, "e"));
    await assert.rejects(cache.fetch(expected("/too-long.deb")), { code: "cache.size-mismatch" });
  });

  test("a damaged cached file is detected and fetched again", async () => {
    const cache = new ContentCache(join(dir, "f"));
    const path = await cache.fetch(expected("/good.deb"));
    await writeFile(path, Buffer.concat([good.subarray(0, 10), Buffer.from("X"), good.subarray(11)]));
    const count = hits.get("/good.deb") ?? 0;
    assert.equal(await cache.fetch(expected("/good.deb")), path);
    assert.deepEqual(await readFile(path), good);
    assert.equal(hits.get("/good.deb"), count + 1);
  });

  test("a cached file is served on its stamp while stat shows it unchanged", async () => {
    const cache = new ContentCache(join(dir, "stamp"));
    const path = await cache.fetch(expected("/good.deb"));
    const stampPath = join(dir, "stamp", "verified", sha256(good).slice(0, 2), sha256(good));
    assert.ok(existsSync(stampPath), "a download leaves a stamp");
    // What a stamp cannot catch, forged: a same-size change whose stat the stamp then matches. It
    // is believed, which shows that the stamp, not a hash, vouched for the file.
    await writeFile(path, Buffer.concat([good.subarray(0, 10), Buffer.from("X"), good.subarray(11)]));
    const info = await stat(path, { bigint: true });
    await writeFile(
      stampPath,
      JSON.stringify({
        size: String(info.size),
        ino: String(info.ino),
        mtimeNs: String(info.mtimeNs),
        ctimeNs: String(info.ctimeNs),
      }),
    );
    const count = hits.get("/good.deb") ?? 0;
    assert.equal(await cache.fetch(expected("/good.deb")), path);
    assert.equal(hits.get("/good.deb"), count, "not fetched again");
  });

  test("a same-size rewrite with its mtime set back is hashed, refused and fetched again", async () => {
    const cache = new ContentCache(join(dir, "rewrite"));
    const path = await cache.fetch(expected("/good.deb"));
    const original = await stat(path);
    // Past the file system clock's tick (kernels before 6.13 stamp ctime from a coarse clock): a
    // rewrite within the download's own tick is what a stamp cannot see (see VerifiedStamps).
    await sleep(20);
    await writeFile(path, Buffer.concat([good.subarray(0, 10), Buffer.from("X"), good.subarray(11)]));
    await utimes(path, original.atime, original.mtime);
    const count = hits.get("/good.deb") ?? 0;
    assert.equal(await cache.fetch(expected("/good.deb")), path);
    assert.deepEqual(await readFile(path), good);
    assert.equal(hits.get("/good.deb"), count + 1);
  });

  test("a truncated cached file is refused and fetched again", async () => {
    const cache = new ContentCache(join(dir, "truncate"));
    const path = await cache.fetch(expected("/good.deb"));
    await truncate(path, 100);
    const count = hits.get("/good.deb") ?? 0;
    assert.deepEqual(await readFile(await cache.fetch(expected("/good.deb"))), good);
    assert.equal(hits.get("/good.deb"), count + 1);
  });

  test("a file found without a stamp is hashed, and stamped only if it changed long enough before", async () => {
    const cache = new ContentCache(join(dir, "unstamped"));
    const path = cache.pathOf(sha256(good));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, good);
    const count = hits.get("/good.deb") ?? 0;
    assert.equal(await cache.fetch(expected("/good.deb")), path);
    assert.equal(hits.get("/good.deb"), count, "the right bytes are kept");
    assert.equal(
      existsSync(join(dir, "unstamped", "verified", sha256(good).slice(0, 2), sha256(good))),
      false,
      "just written: racily clean, hashed again next time",
    );
  });

  test("a 404 names the package and URL", async () => {
    const cache = new ContentCache(join(dir, "g"));
    await assert.rejects(cache.fetch(expected("/missing.deb")), (error: unknown) => {
      assert.ok(error instanceof LinuxBuilderError);
      assert.match(
        error.message,
        /pkg \/missing\.deb from http:\/\/127\.0\.0\.1:\d+\/missing\.deb: HTTP 404/,
      );
      return true;
    });
  });
});

test("a derived file is kept under its source's hash, checked at each read, and dropped when damaged", async () => {
  const root = await mkdtemp(join(tmpdir(), "lb-derived-"));
  try {
    const cache = new ContentCache(root);
    const source = sha256(good);
    assert.equal(await cache.readDerived(source, "qemu-aarch64"), undefined);
    const program = Buffer.from("an interpreter's bytes");
    await cache.storeDerived(source, "qemu-aarch64", program);
    assert.deepEqual(await cache.readDerived(source, "qemu-aarch64"), program);
    assert.equal(await cache.readDerived(source, "qemu-x86_64"), undefined, "another name is another file");
    assert.equal(await cache.readDerived(sha256(program), "qemu-aarch64"), undefined, "another source too");
    const [entry] = await readdir(join(root, "derived", source));
    await writeFile(join(root, "derived", source, entry as string), "damaged");
    assert.equal(await cache.readDerived(source, "qemu-aarch64"), undefined);
    assert.deepEqual(await readdir(join(root, "derived", source)), []);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test("a derived file is read on its stamp while stat shows it unchanged, and hashed again when changed", async () => {
  const root = await mkdtemp(join(tmpdir(), "lb-derived-stamp-"));
  try {
    const cache = new ContentCache(root);
    const source = sha256(good);
    const program = Buffer.from("an interpreter's bytes");
    await cache.storeDerived(source, "qemu-aarch64", program);
    const [entry] = await readdir(join(root, "derived", source));
    const path = join(root, "derived", source, entry as string);
    const key = derivedStampKey(source, entry as string);
    const stampPath = join(root, "verified", key.slice(0, 2), key);
    assert.ok(existsSync(stampPath), "a stored result is stamped");
    // A forged same-size change whose stat the stamp then matches is believed: the stamp vouched.
    const forged = Buffer.from("an interpreter's BYTES");
    await writeFile(path, forged);
    const info = await stat(path, { bigint: true });
    const stampOf = (s: typeof info) =>
      JSON.stringify({
        size: String(s.size),
        ino: String(s.ino),
        mtimeNs: String(s.mtimeNs),
        ctimeNs: String(s.ctimeNs),
      });
    await writeFile(stampPath, stampOf(info));
    assert.deepEqual(await cache.readDerived(source, "qemu-aarch64"), forged);
    // Changed again, with no stamp to match: hashed, refused, dropped with its stamp.
    await sleep(20);
    await writeFile(path, Buffer.from("an interpreter's bytez"));
    assert.equal(await cache.readDerived(source, "qemu-aarch64"), undefined);
    assert.equal(existsSync(stampPath), false);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
