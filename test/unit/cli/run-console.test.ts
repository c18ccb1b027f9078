import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type RunBannerFacts, runBanner } from "../../../src/cli/run-banner.js";
import { describeRunEnd, exitStatus, formatDuration } from "../../../src/cli/run-end.js";
import { LinuxBuilderError } from "../../../src/errors.js";
import { DEFAULT_BUILDER_PORT } from "../../../src/nix/builders.js";
import { escapeKeyName, parseEscapeKey, splitAtEscape } from "../../../src/vm/console-attach.js";

describe("the console's escape key", () => {
  test("is written as ^X, ctrl-x or Ctrl+X, any case", () => {
    assert.equal(parseEscapeKey("^]"), 0x1d);
    assert.equal(parseEscapeKey("ctrl-]"), 0x1d);
    assert.equal(parseEscapeKey("Ctrl+A"), 0x01);
    assert.equal(parseEscapeKey("^a"), 0x01);
    assert.equal(parseEscapeKey(" ^_ "), 0x1f);
    assert.equal(parseEscapeKey("^@"), 0x00);
  });

  test("anything but a control key is a usage error that names the flag", () => {
    for (const bad of ["x", "]", "^", "^1", "ctrl-", "^]]", "alt-x", ""]) {
      assert.throws(
        () => parseEscapeKey(bad),
        (error: unknown) =>
          error instanceof LinuxBuilderError && /--escape must be a control key/.test(error.message),
        bad,
      );
    }
  });

  test("is shown as Ctrl-X", () => {
    assert.equal(escapeKeyName(0x1d), "Ctrl-]");
    assert.equal(escapeKeyName(0x01), "Ctrl-A");
  });

  test("input before it goes to the guest; it and what follows do not", () => {
    const escapeByte = 0x1d;
    assert.deepEqual(splitAtEscape(Buffer.from("ls\r"), escapeByte), {
      forward: Buffer.from("ls\r"),
      detach: false,
    });
    assert.deepEqual(splitAtEscape(Buffer.from("ab\x1dcd"), escapeByte), {
      forward: Buffer.from("ab"),
      detach: true,
    });
    assert.deepEqual(splitAtEscape(Buffer.from("\x1d"), escapeByte), {
      forward: Buffer.alloc(0),
      detach: true,
    });
    // Ctrl-c is the guest's, not a way out.
    assert.equal(splitAtEscape(Buffer.from("\x03"), escapeByte).detach, false);
  });
});

const hostPublicKey =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJBWcxb/Blaqt1auOtE+F8QUWrUotiC5qBJ+UuEWdVCb root@linux-builder";
const facts: RunBannerFacts = {
  config: {
    arch: "amd64",
    cpus: 4,
    memoryMiB: 4096,
    port: DEFAULT_BUILDER_PORT,
    maxJobs: 4,
    speedFactor: 1,
    supportedFeatures: ["benchmark", "big-parallel"],
  },
  accel: "kvm",
  hostPublicKey,
  builderKey: "/home/me/.local/state/linux-builder/keys/builder_ed25519",
  consoleLog: "/home/me/.local/state/linux-builder/console.log",
  selector: [],
  hostKind: "linux",
  dirs: { nixConfDir: "/etc/nix", sshConfigDir: "/etc/ssh/ssh_config.d" },
  installed: false,
};

describe("what run prints before the console", () => {
  test("after installing, it says so and gives no manual steps", () => {
    const text = runBanner({
      ...facts,
      installed: true,
      dirs: { nixConfDir: "/tmp/n", sshConfigDir: "/tmp/s" },
    });
    assert.match(text, /through this configuration \(installed; `linux-builder uninstall` removes it\)/);
    assert.match(text, /^ {2}\/tmp\/n\/machines:\n {4}ssh-ng:\/\/builder@linux-builder /m);
    assert.match(text, /^ {2}\/tmp\/s\/linux-builder\.conf /m);
    assert.doesNotMatch(text, /sudo install/);
  });

  test("the seed's machines line, pinned to the guest's host key, and builders-use-substitutes", () => {
    const text = runBanner(facts);
    const pinned = Buffer.from(hostPublicKey.split(" ").slice(0, 2).join(" ")).toString("base64");
    assert.ok(
      text.includes(
        `    ssh-ng://builder@linux-builder x86_64-linux /etc/nix/builder_ed25519 4 1 benchmark,big-parallel - ${pinned}\n`,
      ),
      text,
    );
    assert.match(text, /\/etc\/nix\/nix\.conf:\n {4}builders-use-substitutes = true\n/);
  });

  test("the ssh_config alias that carries the port, and the key where the Nix daemon reads it", () => {
    const text = runBanner(facts);
    assert.match(
      text,
      /\/etc\/ssh\/ssh_config\.d\/linux-builder\.conf .*:\n {4}Host linux-builder\n {6}HostName 127\.0\.0\.1\n {6}Port 31022\n {6}HostKeyAlias linux-builder\n {6}User builder\n {6}IdentityFile \/etc\/nix\/builder_ed25519\n {6}IdentitiesOnly yes\n {6}ControlMaster auto\n {6}ControlPath \/etc\/nix\/linux-builder-ssh\/%C\n/,
    );
    assert.match(text, /sudo mkdir -m 700 \/etc\/nix\/linux-builder-ssh\n/);
    assert.match(
      text,
      /sudo install -m 600 \/home\/me\/\.local\/state\/linux-builder\/keys\/builder_ed25519 \/etc\/nix\/builder_ed25519\n/,
    );
    assert.match(text, /sudo systemctl restart nix-daemon/);
    assert.match(
      runBanner({ ...facts, hostKind: "darwin" }),
      /sudo launchctl kickstart -k system\/org\.nixos\.nix-daemon/,
    );
  });

  test("the seed's ways to stop it, naming this builder's state directory, shell-quoted", () => {
    assert.match(runBanner(facts), /Ctrl-a c, then `system_powerdown` and Enter at the \(qemu\) prompt/);
    assert.match(runBanner(facts), /`linux-builder stop` or `linux-builder ssh shutdown now`/);
    const text = runBanner({ ...facts, selector: ["--state-dir", "/tmp/my builder's"] });
    assert.match(text, /`linux-builder stop --state-dir '\/tmp\/my builder'\\''s'`/);
  });

  test("another port is another builder: its own alias and key file", () => {
    const text = runBanner({ ...facts, config: { ...facts.config, port: 31023, arch: "arm64" } });
    assert.match(
      text,
      /ssh-ng:\/\/builder@linux-builder-31023 aarch64-linux \/etc\/nix\/linux-builder-31023_ed25519 /,
    );
    assert.match(text, /Host linux-builder-31023\n {6}HostName 127\.0\.0\.1\n {6}Port 31023\n/);
  });
});

describe("how run says it ended", () => {
  const base = { code: 0, signal: null, seconds: 12.34, consoleTail: "" } as const;

  test("a clean power-off, a panic, a quit, a failure, a signal", () => {
    const log = "/state/console.log";
    assert.equal(
      describeRunEnd({ ...base, consoleTail: "linux-builder: stopping\nlinux-builder: powering off\n" }, log),
      "The builder powered off cleanly after 12.3 s.",
    );
    assert.match(
      describeRunEnd({ ...base, consoleTail: "Kernel panic - not syncing: Attempted to kill init!" }, log),
      /kernel panicked after 12\.3 s; \/state\/console\.log/,
    );
    assert.match(describeRunEnd(base, log), /QEMU quit without the guest powering off/);
    assert.match(describeRunEnd({ ...base, code: 1 }, log), /QEMU exited with status 1 after 12\.3 s/);
    assert.equal(
      describeRunEnd({ ...base, code: null, signal: "SIGKILL", seconds: 125 }, log),
      "QEMU was stopped by SIGKILL after 2 min 5 s.",
    );
  });

  test("the exit status is QEMU's, or 128 + the signal's number", () => {
    assert.equal(exitStatus({ code: 0, signal: null }), 0);
    assert.equal(exitStatus({ code: 3, signal: null }), 3);
    assert.equal(exitStatus({ code: null, signal: "SIGKILL" }), 137);
    assert.equal(exitStatus({ code: null, signal: "SIGTERM" }), 143);
  });

  test("durations", () => {
    assert.equal(formatDuration(9.54), "9.5 s");
    assert.equal(formatDuration(61), "1 min 1 s");
    assert.equal(formatDuration(119.6), "2 min 0 s");
    assert.equal(formatDuration(3 * 3600 + 120), "3 h 2 min");
  });
});
