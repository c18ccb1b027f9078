/**
 * The guest builds for the other Linux system through qemu-user, under TCG, with real Nix: the
 * amd64 guest builds an aarch64-linux derivation and the arm64 guest an x86_64-linux one, each
 * built by the other architecture's static busybox (a fixed input copied into the guest's store);
 * the output says which machine the program saw (`uname -m`) and which kernel it ran on. With no
 * emulated systems the guest's Nix refuses such a derivation. The host's Nix sends each build to
 * the guest's daemon (--store ssh-ng), so what is checked is the guest's own side.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { NixSystem } from "../../src/config/config.js";
import { binfmtName } from "../../src/guest/binfmt.js";
import { registeredEmulators } from "../../src/guest/console-lines.js";
import { ARCHITECTURES, type Arch } from "../../src/image/guest/profile.js";
import { bootUntilReady, run, sshRun, testImage } from "../support/guest-vm.js";
import { staticBusybox } from "../support/static-busybox.js";

/** A derivation for `system` built by the busybox in `busyboxDir`: its machine and the kernel it ran on. */
function emulatedBuild(system: NixSystem, busyboxDir: string): string {
  return `
    let bb = builtins.path { path = ${busyboxDir}; name = "busybox-static"; };
    in derivation {
      name = "lb-emulated"; system = "${system}"; nonce = "${Date.now()}";
      builder = "\${bb}/sh";
      args = [ "-c" "echo \\"$(\${bb}/busybox uname -m) on $(\${bb}/busybox cat /proc/sys/kernel/osrelease)\\" > $out" ];
    }`;
}

const other = (arch: Arch): Arch => (arch === "amd64" ? "arm64" : "amd64");

describe("the guest emulates the other Linux system (slow)", () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), "lb-emulation-"));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  /** Boots `arch`'s guest emulating `emulated`, and builds a derivation for the other system. */
  async function buildOnGuest(arch: Arch, emulated: readonly NixSystem[], readyTimeoutMs: number) {
    const foreign = other(arch);
    const system = ARCHITECTURES[foreign].nixSystem;
    const busybox = await staticBusybox(foreign, join(work, `busybox-${foreign}-${emulated.length}`));
    const guest = await bootUntilReady(await testImage(arch), { emulatedSystems: emulated }, readyTimeoutMs);
    try {
      const built = await run(
        "nix-build",
        ["--store", "ssh-ng://builder@127.0.0.1", "--no-out-link", "-E", emulatedBuild(system, busybox)],
        { env: { ...process.env, NIX_SSHOPTS: guest.sshOptions().join(" ") }, timeout: 20 * 60_000 },
      ).then(
        async ({ stdout }) => ({ output: await sshRun(guest, `cat ${stdout.trim()}`) }),
        (error: { stderr?: string }) => ({ refused: String(error.stderr) }),
      );
      const entry = await sshRun(guest, `cat /proc/sys/fs/binfmt_misc/${binfmtName(system)} 2>&1 || true`);
      const platforms = await sshRun(guest, "nix config show extra-platforms");
      return { built, console: await guest.console(), entry, platforms, system };
    } finally {
      await guest.destroy();
    }
  }

  test("the amd64 guest builds aarch64-linux with aarch64 busybox; with emulatedSystems [] it refuses", {
    timeout: 40 * 60_000,
  }, async () => {
    const emulating = await buildOnGuest("amd64", ["aarch64-linux"], 5 * 60_000);
    assert.deepEqual(registeredEmulators(emulating.console), ["qemu-aarch64"]);
    assert.match(emulating.entry, /^enabled\ninterpreter \/usr\/bin\/qemu-aarch64\nflags: PF\n/);
    assert.match(emulating.platforms, /aarch64-linux/);
    assert.ok("output" in emulating.built, `the build failed: ${JSON.stringify(emulating.built)}`);
    assert.match(emulating.built.output, /^aarch64 on 6\.\d+\.\d+\+deb\d+-cloud-amd64\n$/);

    const native = await buildOnGuest("amd64", [], 5 * 60_000);
    assert.deepEqual(registeredEmulators(native.console), []);
    assert.match(native.entry, /No such file/);
    assert.doesNotMatch(native.platforms, /aarch64-linux/);
    assert.ok("refused" in native.built, "the guest built for a system it does not emulate");
    assert.match(native.built.refused, /aarch64-linux/);
    assert.match(native.built.refused, /x86_64-linux/);
  });

  test("the arm64 guest builds x86_64-linux with x86_64 busybox", { timeout: 60 * 60_000 }, async () => {
    const emulating = await buildOnGuest("arm64", ["x86_64-linux"], 20 * 60_000);
    assert.deepEqual(registeredEmulators(emulating.console), ["qemu-x86_64"]);
    assert.match(emulating.platforms, /x86_64-linux/);
    assert.ok("output" in emulating.built, `the build failed: ${JSON.stringify(emulating.built)}`);
    assert.match(emulating.built.output, /^x86_64 on 6\.\d+\.\d+\+deb\d+-cloud-arm64\n$/);
  });
});
