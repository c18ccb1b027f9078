import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { loadConfig } from "../../../src/app/load-config.js";
import { LinuxBuilderError } from "../../../src/errors.js";

describe("the builder's settings: defaults from the host, then the file, then the flags", () => {
  let dir: string;
  const paths = () => ({
    cache: "/c",
    images: "/i",
    state: join(dir, "state"),
    config: join(dir, "config.json"),
  });
  const host = { cpus: 6, memoryMiB: 16384, arch: "arm64" as const };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "lb-load-config-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("without a file: the host's CPUs, a quarter of its memory, its architecture, jobs per CPU", async () => {
    const config = await loadConfig(host, paths(), {});
    assert.equal(config.cpus, 6);
    assert.equal(config.memoryMiB, 4096);
    assert.equal(config.arch, "arm64");
    assert.equal(config.maxJobs, 6);
    assert.equal(config.stateDir, join(dir, "state"));
  });

  test("a host CPU we have no guest for gets amd64", async () => {
    assert.equal((await loadConfig({ ...host, arch: undefined }, paths(), {})).arch, "amd64");
  });

  test("the file over the defaults, the flags over the file; jobs follow the CPUs unless set", async () => {
    await writeFile(join(dir, "config.json"), JSON.stringify({ cpus: 2, port: 31023 }));
    const fromFile = await loadConfig(host, paths(), {});
    assert.equal(fromFile.cpus, 2);
    assert.equal(fromFile.maxJobs, 2);
    assert.equal(fromFile.port, 31023);
    const flagged = await loadConfig(host, paths(), { cpus: 3, maxJobs: 1 });
    assert.equal(flagged.cpus, 3);
    assert.equal(flagged.maxJobs, 1);
    assert.equal(flagged.port, 31023);
  });

  test("emulatedSystems naming only the native system: one warning that it changes nothing; otherwise none", async () => {
    const warnings: string[] = [];
    const load = (emulatedSystems: ("x86_64-linux" | "aarch64-linux")[] | undefined) =>
      loadConfig(host, paths(), emulatedSystems === undefined ? {} : { emulatedSystems }, (w) =>
        warnings.push(w),
      );
    await load(["aarch64-linux"]);
    assert.deepEqual(warnings, [
      "emulatedSystems names only aarch64-linux, which the arm64 guest runs natively: it emulates nothing (as with []). To emulate the other Linux system, name it (or leave the setting out).",
    ]);
    await load(undefined);
    await load([]);
    await load(["x86_64-linux"]);
    await load(["aarch64-linux", "x86_64-linux"]);
    assert.equal(warnings.length, 1);
  });

  test("a broken file is an error naming it", async () => {
    await writeFile(join(dir, "config.json"), "{ cpus: 2");
    await assert.rejects(
      loadConfig(host, paths(), {}),
      (error: unknown) => error instanceof LinuxBuilderError && error.code === "config.syntax",
    );
    await rm(join(dir, "config.json"));
  });
});
