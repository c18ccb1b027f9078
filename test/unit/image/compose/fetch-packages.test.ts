import assert from "node:assert/strict";
import { test } from "node:test";
import type { ContentCache, ExpectedFile, FetchOptions } from "../../../../src/image/cache/content-cache.js";
import { fetchPackages } from "../../../../src/image/compose/fetch-packages.js";
import { quietReporter } from "../../../../src/image/compose/reporter.js";
import { lockOf } from "../fake-lock.js";

test("the largest files are fetched first, and the paths come back in the lock's order", async () => {
  const lock = lockOf(["a", "b", "qemu-user", "z"]);
  const sizes: Record<string, number> = { a: 3, b: 1, "qemu-user": 100, z: 2, "linux-image-x": 50 };
  const sized = { ...lock, kernel: { ...lock.kernel, size: 50 } };
  sized.packages = lock.packages.map((p) => ({ ...p, size: sizes[p.name] ?? 0 }));
  const requested: string[] = [];
  const cache = {
    async fetch(file: ExpectedFile) {
      requested.push(file.label);
      // Finish in reverse order of starting: the result order must not depend on it.
      await new Promise((resolve) => setTimeout(resolve, 40 - 10 * requested.length));
      return `/cache/${file.label}`;
    },
  } as unknown as ContentCache;
  const fetched = await fetchPackages(sized, "http://mirror/debian", cache, quietReporter, { concurrency: 2 })
    .all;
  assert.deepEqual(requested, ["qemu-user 1", "linux-image-x 1", "a 1", "z 1", "b 1"]);
  assert.equal(fetched.kernel, "/cache/linux-image-x 1");
  assert.deepEqual(fetched.packages, ["/cache/a 1", "/cache/b 1", "/cache/qemu-user 1", "/cache/z 1"]);
});

test("each file is there as soon as it has arrived, before the others", async () => {
  const lock = lockOf(["a", "b"]);
  const sized = { ...lock, kernel: { ...lock.kernel, size: 50 } };
  sized.packages = lock.packages.map((p) => ({ ...p, size: p.name === "a" ? 10 : 1 }));
  let releaseA = () => {};
  const aReleased = new Promise<void>((resolve) => {
    releaseA = resolve;
  });
  const cache = {
    async fetch(file: ExpectedFile) {
      if (file.label.startsWith("a ")) await aReleased;
      return `/cache/${file.label}`;
    },
  } as unknown as ContentCache;
  const debs = fetchPackages(sized, "http://mirror/debian", cache, quietReporter, { concurrency: 3 });
  assert.equal(await debs.kernel, "/cache/linux-image-x 1");
  assert.equal(await debs.packages[1], "/cache/b 1");
  let allDone = false;
  void debs.all.then(() => {
    allDone = true;
  });
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(allDone, false);
  releaseA();
  assert.deepEqual((await debs.all).packages, ["/cache/a 1", "/cache/b 1"]);
});

test("a bad file rejects every file still to come with its own error, and ends the progress", async () => {
  const lock = lockOf(["a", "b", "c"]);
  const sized = { ...lock, kernel: { ...lock.kernel, size: 50 } };
  sized.packages = lock.packages.map((p) => ({ ...p, size: { a: 3, b: 2, c: 1 }[p.name] ?? 0 }));
  const cache = {
    async fetch(file: ExpectedFile, options: FetchOptions) {
      options.onDownload?.();
      if (file.label.startsWith("b ")) throw new Error("b 1: the sha256 does not match");
      // The others wait for the abort, as a download in flight does.
      await new Promise((_, reject) =>
        options.signal?.addEventListener("abort", () => reject(new Error("aborted"))),
      );
      return `/cache/${file.label}`;
    },
  } as unknown as ContentCache;
  let ended = 0;
  let firstDownloads = 0;
  const debs = fetchPackages(
    sized,
    "http://mirror/debian",
    cache,
    { ...quietReporter, downloadEnd: () => ended++ },
    { concurrency: 3, onFirstDownload: () => firstDownloads++ },
  );
  for (const file of [debs.kernel, debs.packages[0], debs.packages[1], debs.packages[2], debs.all])
    await assert.rejects(file as Promise<unknown>, /b 1: the sha256 does not match/);
  assert.equal(ended, 1);
  assert.equal(firstDownloads, 1);
});

test("the packages the image leaves out are not fetched: no request, no bytes in the bar, a gap in the lock's order", async () => {
  const lock = lockOf(["busybox", "perl-base", "openssh-client", "nix-bin"]);
  const sized = { ...lock, kernel: { ...lock.kernel, size: 50 } };
  // Sizes that reorder the fetches (largest first) across the gaps.
  const sizes: Record<string, number> = { busybox: 5, "perl-base": 30, "openssh-client": 1, "nix-bin": 20 };
  sized.packages = lock.packages.map((p) => ({ ...p, size: sizes[p.name] ?? 0 }));
  const requested: string[] = [];
  const cache = {
    async fetch(file: ExpectedFile) {
      requested.push(file.label);
      return `/cache/${file.label}`;
    },
  } as unknown as ContentCache;
  const started: [number, number][] = [];
  const debs = fetchPackages(
    sized,
    "http://mirror/debian",
    cache,
    { ...quietReporter, downloadStart: (bytes, files) => started.push([bytes, files]) },
    { concurrency: 2 },
  );
  const fetched = await debs.all;
  assert.deepEqual(requested, ["linux-image-x 1", "nix-bin 1", "busybox 1"]);
  assert.deepEqual(started, [[75, 3]]);
  assert.deepEqual(fetched.packages, ["/cache/busybox 1", undefined, undefined, "/cache/nix-bin 1"]);
  assert.equal(debs.packages[1], undefined);
  assert.equal(await debs.packages[3], "/cache/nix-bin 1");
});
