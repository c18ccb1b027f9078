import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { checkHost, parseOsRelease } from "../../../../src/host/doctor/host.js";

const ran = (stdout: string) => ({ kind: "ran", stdout }) as const;

describe("the host", () => {
  const macos = (stdout: string) => checkHost({ platform: "darwin", swVers: ran(stdout) });

  test("macOS 12.4 and later pass; 12.3.1 fails, saying what to do", () => {
    for (const version of ["12.4", "12.4.1", "14.6.1", "26.0", "15.0\n"]) {
      const result = macos(version);
      assert.equal(result.status, "ok", version);
      assert.equal(result.detail, `macOS ${version.trim()}`);
    }
    const old = macos("12.3.1\n");
    assert.equal(old.status, "fail");
    assert.match(old.detail, /macOS 12\.3\.1 is older than 12\.4/);
    assert.match(old.fix ?? "", /Update macOS to 12\.4 or later/);
    assert.equal(macos("11.7.10").status, "fail");
  });

  test("a version sw_vers did not give, or that is not a version, is a warning", () => {
    assert.equal(checkHost({ platform: "darwin", swVers: { kind: "missing" } }).status, "warn");
    assert.equal(checkHost({ platform: "darwin", swVers: { kind: "failed", message: "x" } }).status, "warn");
    const odd = macos("ProductVersion: 14.6.1");
    assert.equal(odd.status, "warn");
    assert.match(odd.detail, /cannot read the macOS version/);
  });

  test("Linux: the kernel and the distribution, from /etc/os-release", () => {
    const osRelease = [
      'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"',
      'NAME="Debian GNU/Linux"',
      'VERSION_ID="12"',
      "ID=debian",
    ].join("\n");
    assert.equal(parseOsRelease(osRelease), "Debian GNU/Linux 12 (bookworm)");
    assert.equal(parseOsRelease("NAME=NixOS\nID=nixos\n"), "NixOS");
    assert.deepEqual(checkHost({ platform: "linux", kernel: "6.1.0-28-amd64", osRelease }), {
      name: "host",
      status: "ok",
      detail: "Linux 6.1.0-28-amd64, Debian GNU/Linux 12 (bookworm)",
    });
    assert.equal(
      checkHost({ platform: "linux", kernel: "6.1.0", osRelease: undefined }).detail,
      "Linux 6.1.0",
    );
    assert.equal(checkHost({ platform: "other", name: "freebsd" }).status, "warn");
  });
});
