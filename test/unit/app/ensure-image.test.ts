import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ensureImage } from "../../../src/app/ensure-image.js";
import { defaultConfig } from "../../../src/config/config.js";
import { quietReporter } from "../../../src/image/compose/reporter.js";
import { serializeLock } from "../../../src/image/lock.js";
import { ImageStore } from "../../../src/image/store.js";
import type { ProbeKernel } from "../../../src/vm/lifecycle/early-accel.js";

const quietIo = {
  reporter: quietReporter,
  say: () => undefined,
  warn: () => undefined,
};

test("composing with an older image of the architecture in the store: its kernel is offered to the probe at once", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lb-ensure-"));
  try {
    const paths = {
      cache: join(dir, "cache"),
      images: join(dir, "images"),
      state: join(dir, "state"),
      config: "",
    };
    const store = new ImageStore(paths.images);
    const older = await store.add({
      arch: "amd64",
      suite: "trixie",
      nixSystem: "x86_64-linux",
      kernelVersion: "6.12",
      kernel: Buffer.from("an older kernel"),
      initrd: Buffer.from("initrd"),
      initrdUncompressedSize: 6,
      lockText: serializeLock({
        lockVersion: 1,
        suite: "trixie",
        arch: "amd64",
        roots: [],
        kernel: {
          name: "linux-image-amd64",
          version: "1",
          architecture: "amd64",
          filename: "pool/k.deb",
          size: 1,
          sha256: "a".repeat(64),
        },
        packages: [],
      }),
      inputs: "older inputs",
      modules: [],
      packageCount: 0,
      emulators: [],
      caFingerprints: [],
    });
    // No current image: a composition, from a mirror that is not there (it fails, after the offer).
    const config = {
      ...defaultConfig({ cpus: 1, memoryMiB: 1024, arch: "amd64", stateDir: paths.state }),
      mirror: "http://127.0.0.1:9/debian",
    };
    const offered: ProbeKernel[] = [];
    await assert.rejects(ensureImage(paths, config, quietIo, (kernel) => offered.push(kernel)));
    assert.deepEqual(offered, [{ path: join(older.directory, "kernel") }]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
