import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { writeCpio } from "../../src/image/archive/cpio.js";
import { gzipReproducible } from "../../src/image/archive/gzip.js";

const INPUT = writeCpio([
  { path: "etc", type: "directory", mode: 0o755 },
  { path: "etc/motd", type: "file", mode: 0o644, data: Buffer.from("welcome\n".repeat(500)) },
]);

describe("gzipReproducible", () => {
  test("writes a fixed header: no name, mtime 0, XFL by level, OS 3 (Unix)", () => {
    const out = gzipReproducible(INPUT);
    assert.deepEqual([...out.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    assert.deepEqual([...gzipReproducible(INPUT, 9).subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3]);
    assert.deepEqual([...gzipReproducible(INPUT, 1).subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 3]);
    assert.ok(out.length < INPUT.length / 4, "it compresses");
  });

  test("gives the same bytes every time", () => {
    const first = gzipReproducible(INPUT);
    assert.deepEqual(gzipReproducible(Buffer.from(INPUT)), first);
    assert.notDeepEqual(gzipReproducible(Buffer.concat([INPUT, Buffer.from("x")])), first);
  });

  test("round-trips, and GNU gzip accepts it", async () => {
    const out = gzipReproducible(INPUT);
    assert.deepEqual(gunzipSync(out), INPUT);
    const dir = await mkdtemp(join(tmpdir(), "archive-gzip-"));
    try {
      const file = join(dir, "initrd.gz");
      await writeFile(file, out);
      execFileSync("/usr/bin/gzip", ["-t", file]); // throws on a non-zero exit
      assert.deepEqual(execFileSync("/usr/bin/gzip", ["-dc", file]), INPUT);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
