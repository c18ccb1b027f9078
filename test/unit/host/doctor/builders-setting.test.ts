import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { checkBuildersSetting } from "../../../../src/host/doctor/builders-setting.js";

describe("what the Nix daemon will use", () => {
  describe("the builders setting", () => {
    const at = (source: string, line: number, value: string, name = "builders") => ({
      source,
      line,
      name,
      value,
    });
    const settings = (over: Partial<Parameters<typeof checkBuildersSetting>[0]> = {}) =>
      checkBuildersSetting({
        machinesPath: "/etc/nix/machines",
        machinesPaths: ["/etc/nix/machines"],
        daemon: [],
        client: [],
        route: "daemon",
        trusted: false,
        ...over,
      });

    test("Nix's default, or a builders line that keeps @/etc/nix/machines: ok", () => {
      assert.equal(settings().detail, "Nix's default, @/etc/nix/machines");
      const kept = settings({
        daemon: [at("/etc/nix/nix.conf", 4, "@/etc/nix/machines ; ssh://mac x86_64-darwin")],
      });
      assert.equal(kept.status, "ok");
      assert.match(kept.detail, /\(\/etc\/nix\/nix\.conf line 4\) reads \/etc\/nix\/machines/);
    });

    test("macOS: @/private/etc/nix/machines is the same file", () => {
      const result = settings({
        machinesPaths: ["/etc/nix/machines", "/private/etc/nix/machines"],
        daemon: [at("/etc/nix/nix.conf", 1, "@/private/etc/nix/machines")],
      });
      assert.equal(result.status, "ok");
    });

    test("a builders line in nix.conf (or a file it includes) that hides the machines file fails, naming file and line", () => {
      const result = settings({
        daemon: [
          at("/etc/nix/nix.conf", 2, "@/etc/nix/machines"),
          at("/etc/nix/nix.custom.conf", 7, "ssh://mac x86_64-darwin"),
        ],
      });
      assert.equal(result.status, "fail");
      assert.equal(
        result.detail,
        "`builders = ssh://mac x86_64-darwin` (/etc/nix/nix.custom.conf line 7) replaces Nix's default @/etc/nix/machines: the Nix daemon never reads the machines file",
      );
      assert.equal(
        result.fix,
        "in /etc/nix/nix.custom.conf line 7, add @/etc/nix/machines to it (`builders = @/etc/nix/machines ; ssh://mac x86_64-darwin`) or remove the line; then restart the Nix daemon.",
      );
    });

    test("the user's own builders: an empty one reaches the daemon from anyone; others only from trusted users", () => {
      const empty = settings({ client: [at("NIX_CONFIG", 0, "")] });
      assert.equal(empty.status, "fail");
      assert.match(empty.detail, /^`builders = ` \(NIX_CONFIG\) replaces/);
      const untrusted = settings({
        client: [at("/home/me/.config/nix/nix.conf", 1, "ssh://mac x86_64-darwin")],
      });
      assert.equal(untrusted.status, "ok");
      const trusted = settings({
        client: [at("/home/me/.config/nix/nix.conf", 1, "ssh://mac")],
        trusted: true,
      });
      assert.equal(trusted.status, "fail");
      assert.match(trusted.detail, /\/home\/me\/\.config\/nix\/nix\.conf line 1/);
      const local = settings({ client: [at("NIX_CONFIG", 0, "ssh://mac")], route: "local" });
      assert.equal(local.status, "fail");
    });

    test("extra-builders is no setting: a warning naming it", () => {
      const result = settings({ daemon: [at("/etc/nix/nix.conf", 3, "ssh://mac", "extra-builders")] });
      assert.equal(result.status, "warn");
      assert.match(result.detail, /^\/etc\/nix\/nix\.conf line 3: `extra-builders` is not a Nix setting/);
    });
  });
});
