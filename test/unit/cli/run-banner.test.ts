import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type RunBannerFacts, runBanner } from "../../../src/cli/run-banner.js";
import { DEFAULT_BUILDER_PORT } from "../../../src/nix/builders.js";

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
        `    ssh-ng://builder@linux-builder x86_64-linux,aarch64-linux /etc/nix/builder_ed25519 4 1 benchmark,big-parallel - ${pinned}\n`,
      ),
      text,
    );
    assert.match(text, /\/etc\/nix\/nix\.conf:\n {4}builders-use-substitutes = true\n/);
    assert.match(text, /^Booting the x86_64-linux builder, also aarch64-linux through qemu-user \(4 CPUs/);
  });

  test("with emulatedSystems [], one system in the line and the first words", () => {
    const text = runBanner({ ...facts, config: { ...facts.config, emulatedSystems: [] } });
    assert.match(text, /^Booting the x86_64-linux builder \(4 CPUs/);
    assert.match(text, /builder@linux-builder x86_64-linux \/etc\/nix\/builder_ed25519 /);
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
      /ssh-ng:\/\/builder@linux-builder-31023 aarch64-linux,x86_64-linux \/etc\/nix\/linux-builder-31023_ed25519 /,
    );
    assert.match(text, /Host linux-builder-31023\n {6}HostName 127\.0\.0\.1\n {6}Port 31023\n/);
  });
});
