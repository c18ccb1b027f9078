import assert from "node:assert/strict";
import { test } from "node:test";
import { resolvePaths } from "../../../src/config/paths.js";

test("Linux follows the XDG base directories, with their defaults", () => {
  assert.deepEqual(resolvePaths({ kind: "linux", home: "/home/u", env: {}, cwd: "/w" }), {
    cache: "/home/u/.cache/linux-builder",
    images: "/home/u/.local/share/linux-builder/images",
    state: "/home/u/.local/state/linux-builder",
    config: "/home/u/.config/linux-builder/config.json",
  });
  assert.deepEqual(
    resolvePaths({
      kind: "linux",
      home: "/home/u",
      env: {
        XDG_CACHE_HOME: "/c",
        XDG_DATA_HOME: "/d",
        XDG_STATE_HOME: "relative/ignored",
        XDG_CONFIG_HOME: "/e",
      },
      cwd: "/w",
    }),
    {
      cache: "/c/linux-builder",
      images: "/d/linux-builder/images",
      state: "/home/u/.local/state/linux-builder",
      config: "/e/linux-builder/config.json",
    },
  );
});

test("macOS uses ~/Library", () => {
  assert.deepEqual(
    resolvePaths({ kind: "darwin", home: "/Users/u", env: { XDG_CACHE_HOME: "/x" }, cwd: "/w" }),
    {
      cache: "/Users/u/Library/Caches/linux-builder",
      images: "/Users/u/Library/Application Support/linux-builder/images",
      state: "/Users/u/Library/Application Support/linux-builder/state",
      config: "/Users/u/Library/Application Support/linux-builder/config.json",
    },
  );
});

test("LINUX_BUILDER_HOME moves everything, on every platform", () => {
  for (const kind of ["linux", "darwin"] as const) {
    assert.deepEqual(resolvePaths({ kind, home: "/h", env: { LINUX_BUILDER_HOME: "/lb" }, cwd: "/w" }), {
      cache: "/lb/cache",
      images: "/lb/images",
      state: "/lb/state",
      config: "/lb/config.json",
    });
  }
});

test("a relative LINUX_BUILDER_HOME is taken from the current folder", () => {
  const paths = resolvePaths({ kind: "linux", home: "/h", env: { LINUX_BUILDER_HOME: "lb" }, cwd: "/w" });
  assert.equal(paths.cache, "/w/lb/cache");
});
