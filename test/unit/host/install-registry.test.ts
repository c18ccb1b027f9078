import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { LinuxBuilderError } from "../../../src/errors.js";
import {
  type InstalledBuilder,
  installRegistryPath,
  readInstallRegistry,
  updateInstallRegistry,
  withBuilder,
  withoutBuilder,
} from "../../../src/host/install-registry.js";

const builder = (port: number, stateDir: string, nixConfDir = "/etc/nix"): InstalledBuilder => ({
  nixConfDir,
  sshConfigDir: "/etc/ssh/ssh_config.d",
  port,
  stateDir,
  arch: "amd64",
  systems: ["x86_64-linux", "aarch64-linux"],
});

describe("the record of installed builders", () => {
  test("it lives beside the config file", () => {
    assert.equal(
      installRegistryPath({ config: "/home/me/.config/linux-builder/config.json" }),
      "/home/me/.config/linux-builder/installed-builders.json",
    );
  });

  test("install adds by port (sorted); the same state folder again replaces its record, whatever its port was; another Nix folder is another builder", () => {
    const two = withBuilder(withBuilder({ builders: [] }, builder(31023, "/b")), builder(31022, "/a"));
    assert.deepEqual(
      two.builders.map((b) => [b.port, b.stateDir]),
      [
        [31022, "/a"],
        [31023, "/b"],
      ],
    );
    const moved = withBuilder(two, builder(31030, "/b"));
    assert.deepEqual(
      moved.builders.map((b) => [b.port, b.stateDir]),
      [
        [31022, "/a"],
        [31030, "/b"],
      ],
    );
    assert.equal(withBuilder(two, builder(31023, "/b", "/tmp/nix")).builders.length, 3);
  });

  test("uninstall removes only the builder of that state folder in that Nix folder", () => {
    const pool = { builders: [builder(31022, "/a"), builder(31023, "/b"), builder(31023, "/b", "/tmp/nix")] };
    assert.deepEqual(
      withoutBuilder(pool, { nixConfDir: "/etc/nix", stateDir: "/b" }).builders.map((b) => [
        b.nixConfDir,
        b.stateDir,
      ]),
      [
        ["/etc/nix", "/a"],
        ["/tmp/nix", "/b"],
      ],
    );
    assert.deepEqual(withoutBuilder(pool, { nixConfDir: "/etc/nix", stateDir: "/none" }), pool);
  });

  describe("on disk", () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "lb-registry-"));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    test("none yet reads as empty; updates make the folder and round-trip", async () => {
      const path = join(dir, "new", "installed-builders.json");
      assert.deepEqual(await readInstallRegistry(path), { builders: [] });
      await updateInstallRegistry(path, (r) => withBuilder(r, builder(31022, "/a")));
      await updateInstallRegistry(path, (r) => withBuilder(r, builder(31023, "/b")));
      assert.deepEqual(
        (await readInstallRegistry(path)).builders.map((b) => b.port),
        [31022, 31023],
      );
      await updateInstallRegistry(path, (r) => withoutBuilder(r, { nixConfDir: "/etc/nix", stateDir: "/a" }));
      assert.deepEqual(JSON.parse(await readFile(path, "utf8")), { builders: [builder(31023, "/b")] });
    });

    test("concurrent updates all land (each reads the record the one before wrote)", async () => {
      const path = join(dir, "concurrent", "installed-builders.json");
      const ports = Array.from({ length: 12 }, (_, i) => 31100 + i);
      await Promise.all(
        ports.map((port) => updateInstallRegistry(path, (r) => withBuilder(r, builder(port, `/s${port}`)))),
      );
      assert.deepEqual(
        (await readInstallRegistry(path)).builders.map((b) => b.port),
        ports,
      );
    });

    test("not JSON, or not its format: an error naming the file, the field, and what to do", async () => {
      const path = join(dir, "bad.json");
      await writeFile(path, "{");
      await assert.rejects(
        readInstallRegistry(path),
        (error: unknown) =>
          error instanceof LinuxBuilderError &&
          error.code === "install.registry" &&
          error.message.startsWith(`${path}, the record of installed builders, cannot be read: not JSON`) &&
          /delete it, then run `linux-builder install` again/.test(error.hint ?? ""),
      );
      await writeFile(path, JSON.stringify({ builders: [{ ...builder(31022, "/a"), port: "x" }] }));
      await assert.rejects(readInstallRegistry(path), /builders\.0\.port: /);
    });
  });
});
