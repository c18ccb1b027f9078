/**
 * Boots the composed guest under QEMU (TCG) with throw-away secrets: sshd must accept the builder's
 * key (and only it, under the pinned host key), the Nix daemon must answer over ssh-ng from the host's
 * own Nix, and QMP system_powerdown must stop the VM cleanly. Slow: minutes under TCG.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { Arch } from "../../src/image/guest/profile.js";
import { generateEd25519KeyPair } from "../../src/ssh/openssh-key.js";
import {
  type BootedGuest,
  bootUntilReady,
  run,
  sshRun,
  testImage,
  withTimeout,
} from "../support/guest-vm.js";

type StopVia = "qmp-powerdown" | "ssh-shutdown";

async function stop(guest: BootedGuest, stopVia: StopVia): Promise<void> {
  if (stopVia === "qmp-powerdown") {
    // The seed's console way: Ctrl-a c, system_powerdown — the ACPI power button.
    const qmp = await guest.qmp();
    await qmp.execute("system_powerdown");
  } else {
    // The seed's other way: `shutdown now` as builder over ssh. The guest may close the connection
    // before the command's status arrives (ssh then exits 255): either way, once, no retry.
    await run("ssh", [...guest.sshOptions(), "builder@127.0.0.1", "shutdown", "now"], {
      timeout: 60_000,
    }).catch((error: { code?: number; stderr?: string }) => {
      if (error.code !== 255 || !/closed/i.test(error.stderr ?? "")) throw error;
    });
  }
  const code = await withTimeout(guest.exited, 120_000, `QEMU still running 120 s after ${stopVia}`);
  assert.equal(code, 0);
  assert.match(await guest.console(), /linux-builder: powering off/);
}

async function bootAndCheck(
  arch: Arch,
  readyTimeoutMs: number,
  options: { bootAgainStoppingVia?: StopVia },
): Promise<void> {
  const image = await testImage(arch);
  const diskDir = await mkdtemp(join(tmpdir(), "lb-disk-"));
  const diskFile = join(diskDir, "nix.img");
  const guest = await bootUntilReady(image, { diskFile }, readyTimeoutMs);
  let second: BootedGuest | undefined;
  try {
    const uname = await sshRun(guest, "uname -m; id -un; nix-store --version", readyTimeoutMs);
    const [machine, user, nixVersion] = uname.trim().split("\n");
    assert.equal(machine, arch === "amd64" ? "x86_64" : "aarch64");
    assert.equal(user, "builder");
    assert.match(nixVersion ?? "", /^nix-store \(Nix\) 2\.\d+/);

    // The host's Nix talks to the guest's daemon over ssh-ng, as a remote builder would.
    const { stdout: ping, stderr: pingErr } = await run(
      "nix",
      [
        "--extra-experimental-features",
        "nix-command",
        "store",
        "ping",
        "--store",
        "ssh-ng://builder@127.0.0.1",
      ],
      { env: { ...process.env, NIX_SSHOPTS: guest.sshOptions().join(" ") }, timeout: 120_000 },
    );
    assert.match(`${ping}${pingErr}`, /Store URL: ssh-ng:\/\/builder@127\.0\.0\.1/);

    // A derivation built by the guest's daemon, in its sandbox: the output proves where and how it ran.
    const system = arch === "amd64" ? "x86_64-linux" : "aarch64-linux";
    const script = [
      "read release < /proc/sys/kernel/osrelease",
      // In the sandbox the guest's own /home and /usr are not visible.
      "if [ -e /home/builder ] || [ -e /usr/bin/nix ]; then sandbox=off; else sandbox=on; fi",
      'echo "$release sandbox=$sandbox" > $out',
    ].join("; ");
    const expression = `derivation { name = "lb-probe"; system = "${system}"; builder = "/bin/sh"; args = [ "-c" ${JSON.stringify(script)} ]; nonce = "${Date.now()}"; }`;
    const { stdout: outPath } = await run(
      "nix-build",
      ["--store", "ssh-ng://builder@127.0.0.1", "--no-out-link", "-E", expression],
      { env: { ...process.env, NIX_SSHOPTS: guest.sshOptions().join(" ") }, timeout: 300_000 },
    );
    assert.match(outPath.trim(), /^\/nix\/store\/[a-z0-9]{32}-lb-probe$/);
    const output = await sshRun(guest, `cat ${outPath.trim()}`);
    assert.match(
      output,
      new RegExp(
        `^${image.manifest.kernelVersion.replaceAll(".", "\\.").replaceAll("+", "\\+")} sandbox=on\n$`,
      ),
    );

    // Another key is refused: only the builder's key gets in.
    const stranger = join(guest.dir, "stranger");
    await writeFile(stranger, generateEd25519KeyPair("stranger").privateKey, { mode: 0o600 });
    await assert.rejects(
      run("ssh", [...guest.sshOptions(stranger), "builder@127.0.0.1", "true"], { timeout: 60_000 }),
      (error: { stderr?: string }) => /Permission denied/.test(error.stderr ?? ""),
    );
    // root cannot log in even with the builder's key.
    await assert.rejects(
      run("ssh", [...guest.sshOptions(), "root@127.0.0.1", "true"], { timeout: 60_000 }),
      (error: { stderr?: string }) => /Permission denied/.test(error.stderr ?? ""),
    );

    assert.match(await guest.console(), /formatting \/dev\/vda for \/nix/);
    await stop(guest, "qmp-powerdown");

    if (options.bootAgainStoppingVia !== undefined) {
      // Later boots check the disk instead of formatting it, and the store kept the build output.
      second = await bootUntilReady(image, { diskFile }, readyTimeoutMs);
      assert.doesNotMatch(await second.console(), /formatting/);
      assert.equal(await sshRun(second, `cat ${outPath.trim()}`), output);
      await stop(second, options.bootAgainStoppingVia);
    }
  } finally {
    await guest.destroy();
    await second?.destroy();
    await rm(diskDir, { recursive: true, force: true });
  }
}

/**
 * QEMU's user network has a DHCP server: a guest told to use DHCP gets the address the static
 * parameters give (10.0.2.15, which the host's port forward needs), its route to the host, and
 * the DNS relay.
 */
async function bootWithDhcp(readyTimeoutMs: number): Promise<void> {
  const host = createServer((_request, response) => response.end("the host answers\n"));
  await new Promise<void>((resolve) => host.listen(0, "127.0.0.1", resolve));
  const address = host.address();
  assert(address !== null && typeof address === "object");
  const guest = await bootUntilReady(await testImage("amd64"), { network: "dhcp" }, readyTimeoutMs);
  try {
    const seen = await sshRun(
      guest,
      [
        "/usr/bin/busybox ip -4 addr show scope global",
        "/usr/bin/busybox ip route show default",
        "cat /etc/resolv.conf",
        `/usr/bin/busybox wget -q -O - http://10.0.2.2:${address.port}/`,
      ].join("; "),
      readyTimeoutMs,
    );
    assert.match(seen, /inet 10\.0\.2\.15\/24 /);
    assert.match(seen, /^default via 10\.0\.2\.2 /m);
    assert.match(seen, /^nameserver 10\.0\.2\.3$/m);
    assert.match(seen, /^the host answers$/m);
    await stop(guest, "qmp-powerdown");
  } finally {
    await guest.destroy();
    host.close();
  }
}

describe("the composed guest boots (slow)", { concurrency: false }, () => {
  test("amd64 under qemu-system-x86_64 (TCG)", { timeout: 20 * 60_000 }, async () => {
    await bootAndCheck("amd64", 240_000, { bootAgainStoppingVia: "ssh-shutdown" });
  });

  test("amd64 with its address from QEMU's DHCP server", { timeout: 20 * 60_000 }, async () => {
    await bootWithDhcp(240_000);
  });

  test("arm64 under qemu-system-aarch64 (TCG, slower)", { timeout: 30 * 60_000 }, async () => {
    await bootAndCheck("arm64", 900_000, {});
  });
});
