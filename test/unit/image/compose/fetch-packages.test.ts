import assert from "node:assert/strict";
import { test } from "node:test";
import type { ContentCache, ExpectedFile } from "../../../../src/image/cache/content-cache.js";
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
  const fetched = await fetchPackages(sized, "http://mirror/debian", cache, quietReporter, 2);
  assert.deepEqual(requested, ["qemu-user 1", "linux-image-x 1", "a 1", "z 1", "b 1"]);
  assert.equal(fetched.kernel, "/cache/linux-image-x 1");
  assert.deepEqual(fetched.packages, ["/cache/a 1", "/cache/b 1", "/cache/qemu-user 1", "/cache/z 1"]);
});
