import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type Check,
  checkAccel,
  checkBuild,
  checkBuildExpression,
  checkBuilder,
  checkHost,
  checkInstalledKey,
  checkNix,
  checkPort,
  checkQemu,
  checkStateKeys,
  checkTrustedUser,
  compareVersions,
  formatChecks,
  machinesMention,
  nixRoute,
  type PortFacts,
  parseLsofListeners,
  parseNixConfig,
  parseOsRelease,
  parseVersion,
  settingList,
  type TrustFacts,
  trustedVia,
  worstStatus,
} from "../../src/host/doctor.js";

const ran = (stdout: string) => ({ kind: "ran", stdout }) as const;

describe("versions", () => {
  test("the first dotted number, compared part by part, a missing part as 0", () => {
    assert.deepEqual(
      parseVersion("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)"),
      [7, 2, 22],
    );
    assert.deepEqual(parseVersion("nix (Nix) 2.8.0"), [2, 8, 0]);
    assert.equal(parseVersion("no digits"), undefined);
    assert.equal(compareVersions([12, 4], [12, 4, 0]), 0);
    assert.equal(compareVersions([12, 3, 1], [12, 4]), -1);
    assert.equal(compareVersions([26, 0], [12, 4]), 1);
    assert.equal(compareVersions([12, 10], [12, 4]), 1);
  });
});

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

describe("the port", () => {
  test("lsof -F output from Linux: one process, two addresses", () => {
    const text = "p14076\ncpython3\nLroot\nn127.0.0.1:40123\nn[::1]:40123\n";
    assert.deepEqual(parseLsofListeners(text), [
      { pid: 14076, command: "python3", user: "root", addresses: ["127.0.0.1:40123", "[::1]:40123"] },
    ]);
  });

  test("lsof -F output from macOS: file-descriptor fields skipped, several processes", () => {
    const text = [
      "p1",
      "claunchd",
      "Lroot",
      "f5",
      "n*:22",
      "f6",
      "n*:22",
      "p4242",
      "cqemu-system-aarch64",
      "Lalice",
      "f12",
      "n127.0.0.1:31022",
      "",
    ].join("\n");
    assert.deepEqual(parseLsofListeners(text), [
      { pid: 1, command: "launchd", user: "root", addresses: ["*:22"] },
      { pid: 4242, command: "qemu-system-aarch64", user: "alice", addresses: ["127.0.0.1:31022"] },
    ]);
    assert.deepEqual(parseLsofListeners(""), []);
  });

  const facts: PortFacts = {
    port: 31022,
    hostPlatform: "linux",
    probe: "free",
    listeners: [],
    builder: undefined,
  };

  test("free on 127.0.0.1", () => {
    assert.deepEqual(checkPort(facts), { name: "port 31022", status: "ok", detail: "free on 127.0.0.1" });
    assert.equal(checkPort({ ...facts, hostPlatform: "darwin" }).status, "ok");
    // Port 22 on Linux stays on loopback like any other.
    assert.equal(checkPort({ ...facts, port: 22 }).detail, "free on 127.0.0.1");
  });

  test("port 22 on macOS is free, but QEMU will listen on all addresses: a warning says so", () => {
    const result = checkPort({ ...facts, port: 22, hostPlatform: "darwin" });
    assert.equal(result.status, "warn");
    assert.match(result.detail, /^free, but port 22 is privileged/);
    assert.match(result.detail, /0\.0\.0\.0/);
  });

  test("held by our own builder: ok, naming its pid", () => {
    const result = checkPort({
      ...facts,
      probe: "in-use",
      listeners: parseLsofListeners("p777\ncqemu-system-x86_64\nLalice\nn127.0.0.1:31022\n"),
      builder: { pid: 777, port: 31022 },
    });
    assert.deepEqual(result, {
      name: "port 31022",
      status: "ok",
      detail: "held by the running builder (pid 777)",
    });
  });

  test("held by another process: fail, naming it and saying how to move", () => {
    const result = checkPort({
      ...facts,
      probe: "in-use",
      listeners: parseLsofListeners("p4321\ncnginx\nLwww-data\nn127.0.0.1:31022\n"),
      builder: { pid: 777, port: 31000 },
    });
    assert.equal(result.status, "fail");
    assert.equal(result.detail, "taken by nginx (pid 4321, user www-data) on 127.0.0.1:31022");
    assert.match(result.fix ?? "", /--port/);
  });

  test("taken, and lsof cannot say by whom", () => {
    const hidden = checkPort({ ...facts, probe: "in-use", listeners: [] });
    assert.equal(hidden.status, "fail");
    assert.match(hidden.detail, /a process lsof does not show you/);
    assert.match(hidden.fix ?? "", /sudo lsof -nP -iTCP:31022 -sTCP:LISTEN/);
    const noLsof = checkPort({ ...facts, probe: "in-use", listeners: undefined });
    assert.equal(noLsof.status, "fail");
    assert.match(noLsof.fix ?? "", /Install lsof/);
    // Our builder was started on this port: it is the one holding it.
    const ours = checkPort({
      ...facts,
      probe: "in-use",
      listeners: undefined,
      builder: { pid: 9, port: 31022 },
    });
    assert.equal(ours.status, "ok");
    assert.match(ours.detail, /running builder \(pid 9\)/);
  });

  test("a privileged port we may not bind fails; another error is a warning", () => {
    const denied = checkPort({ ...facts, port: 22, probe: "denied" });
    assert.equal(denied.status, "fail");
    assert.match(denied.detail, /permission denied/);
    assert.match(denied.fix ?? "", /above 1023/);
    assert.equal(checkPort({ ...facts, probe: { error: "EADDRNOTAVAIL" } }).status, "warn");
  });
});

describe("Nix and trust", () => {
  test("nix --version", () => {
    assert.deepEqual(checkNix(ran("nix (Nix) 2.8.0\n")), { name: "nix", status: "ok", detail: "Nix 2.8.0" });
    const missing = checkNix({ kind: "missing" });
    assert.equal(missing.status, "fail");
    assert.match(missing.fix ?? "", /nixos\.org/);
  });

  // Trimmed from Nix 2.8's `nix show-config --json`.
  const showConfig = (trustedUsers: string[]) =>
    JSON.stringify({
      "trusted-users": {
        aliases: [],
        defaultValue: ["root"],
        description: "\nA list of names of users…",
        documentDefault: true,
        value: trustedUsers,
      },
      builders: { aliases: [], defaultValue: "@/etc/nix/machines", value: "@/etc/nix/machines" },
      "max-jobs": { value: 1 },
    });

  test("show-config JSON: values unwrapped; older Nix's plain values too", () => {
    const settings = parseNixConfig(showConfig(["root", "@wheel"]));
    assert.deepEqual(settings.get("trusted-users"), ["root", "@wheel"]);
    assert.equal(settings.get("builders"), "@/etc/nix/machines");
    assert.equal(settings.get("max-jobs"), 1);
    assert.deepEqual(settingList(parseNixConfig('{"trusted-users":"root alice"}').get("trusted-users")), [
      "root",
      "alice",
    ]);
    assert.throws(() => parseNixConfig("error: unknown command"), /not JSON/);
    assert.throws(() => parseNixConfig("[1]"), /not an object/);
  });

  test("trusted by name, by group, by *, as root; or not", () => {
    const alice = { name: "alice", uid: 501, groups: ["staff", "admin"] };
    assert.equal(trustedVia(alice, ["root", "alice"]), "alice is in trusted-users");
    assert.equal(trustedVia(alice, ["root", "@admin"]), "alice is in trusted-users through @admin");
    assert.equal(trustedVia(alice, ["*"]), "trusted-users has *");
    assert.equal(trustedVia({ name: "root", uid: 0, groups: [] }, []), "root is always trusted");
    assert.equal(trustedVia(alice, ["root", "@wheel", "bob", "alice2"]), undefined);
  });

  const trust: TrustFacts = {
    user: { name: "alice", uid: 501, groups: ["staff"] },
    config: ran(showConfig(["root"])),
    route: "daemon",
    daemonBuilder: false,
    nixConf: "/etc/nix/nix.conf",
    restartDaemon: "sudo launchctl kickstart -k system/org.nixos.nix-daemon",
  };

  test("an untrusted user with no builder in the daemon fails, with the spec's nix.conf line", () => {
    const result = checkTrustedUser(trust);
    assert.equal(result.status, "fail");
    assert.match(result.detail, /alice is not a trusted Nix user \(trusted-users is root\)/);
    assert.match(result.fix ?? "", /`extra-trusted-users = alice` to \/etc\/nix\/nix\.conf/);
    assert.match(result.fix ?? "", /launchctl kickstart/);
  });

  test("untrusted, but the daemon has the builder (install): a warning explaining why it still works", () => {
    const result = checkTrustedUser({ ...trust, daemonBuilder: true });
    assert.equal(result.status, "warn");
    assert.match(result.detail, /daemon's own builders/);
    assert.match(result.fix ?? "", /extra-trusted-users = alice/);
  });

  test("trusted, single-user Nix, or settings that cannot be read", () => {
    assert.equal(checkTrustedUser({ ...trust, config: ran(showConfig(["root", "@staff"])) }).status, "ok");
    assert.equal(checkTrustedUser({ ...trust, route: "local" }).status, "ok");
    assert.equal(checkTrustedUser({ ...trust, config: { kind: "missing" } }).status, "warn");
    assert.equal(checkTrustedUser({ ...trust, config: ran("not json") }).status, "warn");
  });

  test("whether machines text has our builder's line", () => {
    const machines = [
      "# my own builder",
      "ssh://me@big-box x86_64-linux /root/.ssh/id 8",
      "# linux-builder: managed by `linux-builder install`, removed by `linux-builder uninstall`",
      "ssh-ng://builder@linux-builder x86_64-linux /etc/nix/builder_ed25519 4 1 benchmark,big-parallel - c3No",
      "# end linux-builder",
    ].join("\n");
    assert.equal(machinesMention(machines, "linux-builder"), true);
    assert.equal(machinesMention(machines, "linux-builder-31023"), false);
    assert.equal(
      machinesMention("ssh-ng://builder@linux-builder-31023 aarch64-linux k 1", "linux-builder"),
      false,
    );
    assert.equal(
      machinesMention("ssh://a x86_64-linux; ssh-ng://builder@linux-builder x86_64-linux", "linux-builder"),
      true,
    );
    assert.equal(machinesMention("# ssh-ng://builder@linux-builder x86_64-linux", "linux-builder"), false);
    assert.equal(machinesMention("", "linux-builder"), false);
  });

  test("local store or daemon, as Nix's auto store decides", () => {
    const none = { nixRemote: undefined, stateDirWritable: false, daemonSocket: false };
    assert.equal(nixRoute({ ...none, stateDirWritable: true, daemonSocket: true }), "local");
    assert.equal(nixRoute({ ...none, daemonSocket: true }), "daemon");
    assert.equal(nixRoute(none), "local");
    assert.equal(nixRoute({ ...none, nixRemote: "daemon", stateDirWritable: true }), "daemon");
    assert.equal(nixRoute({ ...none, nixRemote: "", daemonSocket: true }), "daemon");
  });
});

describe("QEMU and the accelerator", () => {
  const qemu = { command: "qemu-system-x86_64", platform: "linux", arch: "amd64" } as const;

  test("the version, and old or missing QEMU with the platform's install command", () => {
    const banner =
      "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003-2022\n";
    assert.deepEqual(checkQemu({ ...qemu, result: ran(banner) }), {
      name: "qemu",
      status: "ok",
      detail: "qemu-system-x86_64 7.2.22",
    });
    assert.equal(checkQemu({ ...qemu, result: ran("QEMU emulator version 11.1.0\n") }).status, "ok");
    const old = checkQemu({
      ...qemu,
      result: ran("QEMU emulator version 6.2.0 (Debian 1:6.2+dfsg-2ubuntu6)\n"),
    });
    assert.equal(old.status, "warn");
    assert.match(old.detail, /6\.2\.0 is older than 7\.2/);
    const missing = checkQemu({ ...qemu, result: { kind: "missing" } });
    assert.equal(missing.status, "fail");
    assert.match(missing.fix ?? "", /apt install qemu-system-x86/);
    assert.match(
      checkQemu({ ...qemu, command: "qemu-system-aarch64", arch: "arm64", result: { kind: "missing" } })
        .fix ?? "",
      /apt install qemu-system-arm/,
    );
    assert.match(
      checkQemu({ ...qemu, platform: "darwin", result: { kind: "missing" } }).fix ?? "",
      /brew install qemu/,
    );
    assert.equal(checkQemu({ ...qemu, result: ran("something else") }).status, "warn");
  });

  test("hardware acceleration that works is ok; the TCG fallback is a warning", () => {
    assert.equal(checkAccel({ kind: "chosen", requested: "auto", auto: { accel: "kvm" } }).status, "ok");
    assert.equal(
      checkAccel({ kind: "chosen", requested: "auto", auto: { accel: "hvf" }, hvSupport: true }).status,
      "ok",
    );
    const fallback = checkAccel({
      kind: "chosen",
      requested: "auto",
      auto: {
        accel: "tcg",
        warning: "/dev/kvm is there, but a KVM probe boot failed (the guest hung): using TCG (slow)",
      },
    });
    assert.equal(fallback.status, "warn");
    assert.match(fallback.detail, /KVM probe boot failed/);
  });

  test("a configured accelerator that does not work here fails; a needless TCG is a warning", () => {
    const kvm = checkAccel({
      kind: "chosen",
      requested: "kvm",
      auto: { accel: "tcg", warning: "/dev/kvm is missing or not accessible: using TCG (slow)" },
    });
    assert.equal(kvm.status, "fail");
    assert.match(kvm.detail, /the config asks for kvm, but \/dev\/kvm is missing/);
    assert.match(kvm.fix ?? "", /"auto"/);
    const tcg = checkAccel({ kind: "chosen", requested: "tcg", auto: { accel: "kvm" } });
    assert.equal(tcg.status, "warn");
    assert.match(tcg.detail, /kvm works here/);
    assert.equal(checkAccel({ kind: "chosen", requested: "kvm", auto: { accel: "kvm" } }).status, "ok");
  });

  test("a Mac without Hypervisor.framework fails; no image to probe with is a warning", () => {
    const noHv = checkAccel({ kind: "chosen", requested: "auto", auto: { accel: "hvf" }, hvSupport: false });
    assert.equal(noHv.status, "fail");
    assert.match(noHv.detail, /kern\.hv_support is 0/);
    const noImage = checkAccel({
      kind: "skipped",
      reason: "no amd64 image yet",
      fix: "Run `linux-builder image build`.",
    });
    assert.deepEqual(noImage, {
      name: "accelerator",
      status: "warn",
      detail: "no amd64 image yet",
      fix: "Run `linux-builder image build`.",
    });
  });
});

describe("keys", () => {
  const dir = "/state/keys";
  const file = (name: string, mode: number, uid = 501) => ({ path: `${dir}/${name}`, stat: { mode, uid } });
  // stat's mode carries the file type: 0o100000 is a regular file.
  const good = {
    dir,
    privateKeys: [file("builder_ed25519", 0o100600), file("ssh_host_ed25519_key", 0o100600)],
    publicKeys: [file("builder_ed25519.pub", 0o100644), file("ssh_host_ed25519_key.pub", 0o100644)],
    uid: 501,
  };

  test("all there, private ones 0600 and the user's", () => {
    assert.equal(checkStateKeys(good).status, "ok");
  });

  test("a private key readable by others, or someone else's, fails with the command that fixes it", () => {
    const loose = checkStateKeys({
      ...good,
      privateKeys: [file("builder_ed25519", 0o100644), file("ssh_host_ed25519_key", 0o100600, 0)],
    });
    assert.equal(loose.status, "fail");
    assert.match(loose.detail, /builder_ed25519 is mode 0644, not 0600/);
    assert.match(loose.detail, /ssh_host_ed25519_key belongs to uid 0, not you \(uid 501\)/);
    assert.match(loose.fix ?? "", /chmod 600 \/state\/keys\/builder_ed25519/);
  });

  test("none yet is a warning (start makes them); some missing fails", () => {
    const none = checkStateKeys({
      ...good,
      privateKeys: good.privateKeys.map((f) => ({ ...f, stat: undefined })),
      publicKeys: good.publicKeys.map((f) => ({ ...f, stat: undefined })),
    });
    assert.equal(none.status, "warn");
    assert.match(none.fix ?? "", /linux-builder start/);
    const some = checkStateKeys({
      ...good,
      publicKeys: [{ path: `${dir}/builder_ed25519.pub`, stat: undefined }],
    });
    assert.equal(some.status, "fail");
    assert.match(some.detail, /missing: \/state\/keys\/builder_ed25519\.pub/);
  });

  const publicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJBWcxb builder@linux-builder";
  const installed = {
    key: { path: "/etc/nix/builder_ed25519", stat: { mode: 0o100600, uid: 0 } },
    installedPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJBWcxb other-comment\n",
    statePublicKey: `${publicKey}\n`,
  };

  test("the installed key: there, 0600, this builder's (the comment aside)", () => {
    assert.deepEqual(checkInstalledKey(installed), {
      name: "installed key",
      status: "ok",
      detail: "/etc/nix/builder_ed25519, 0600, matches this builder's key",
    });
  });

  test("the installed key missing, loose, or another builder's", () => {
    const missing = checkInstalledKey({
      ...installed,
      key: { path: "/etc/nix/builder_ed25519", stat: undefined },
    });
    assert.equal(missing.status, "warn");
    assert.equal(missing.detail, "not installed (/etc/nix/builder_ed25519)");
    assert.equal(missing.fix, "Run `linux-builder install`.");
    const loose = checkInstalledKey({
      ...installed,
      key: { ...installed.key, stat: { mode: 0o100644, uid: 0 } },
    });
    assert.equal(loose.status, "fail");
    assert.equal(loose.fix, "sudo chmod 600 /etc/nix/builder_ed25519");
    const other = checkInstalledKey({ ...installed, installedPublicKey: "ssh-ed25519 AAAAother x\n" });
    assert.equal(other.status, "fail");
    assert.match(other.detail, /not this builder's key/);
    assert.equal(checkInstalledKey({ ...installed, installedPublicKey: undefined }).status, "warn");
    assert.equal(checkInstalledKey({ ...installed, statePublicKey: undefined }).status, "warn");
  });
});

describe("the builder and the check build", () => {
  const builder = {
    pid: 4242,
    port: 31022,
    configuredPort: 31022,
    accel: "hvf",
    uptimeSeconds: 30,
    ready: true,
  };

  test("running and ready; not running; running but not answering", () => {
    assert.deepEqual(checkBuilder(builder), {
      name: "builder",
      status: "ok",
      detail: "running (pid 4242, hvf, 127.0.0.1:31022), ready",
    });
    const stopped = checkBuilder({
      ...builder,
      pid: undefined,
      port: undefined,
      accel: undefined,
      ready: false,
    });
    assert.equal(stopped.status, "warn");
    assert.equal(stopped.detail, "not running");
    assert.match(stopped.fix ?? "", /linux-builder start/);
    const stuck = checkBuilder({ ...builder, ready: false });
    assert.equal(stuck.status, "fail");
    assert.match(stuck.detail, /up 30 s\) but its ssh and Nix daemon do not answer/);
    assert.match(checkBuilder({ ...builder, configuredPort: 31023 }).detail, /the config now says 31023/);
  });

  test("the derivation: the system, a nonce, and a script that records the kernel", () => {
    const expression = checkBuildExpression("aarch64-linux", "123-abc");
    assert.match(expression, /system = "aarch64-linux";/);
    assert.match(expression, /nonce = "123-abc";/);
    assert.match(expression, /\/proc\/sys\/kernel\/osrelease/);
    assert.notEqual(expression, checkBuildExpression("aarch64-linux", "124-abc"));
  });

  test("built on the builder's kernel: ok, with the time", () => {
    const result = checkBuild({
      kind: "built",
      output: "built on 6.12.57+deb13-cloud-amd64\n",
      guestKernel: "6.12.57+deb13-cloud-amd64\n",
      seconds: 2.34,
    });
    assert.deepEqual(result, {
      name: "check build",
      status: "ok",
      detail: "built on the builder (kernel 6.12.57+deb13-cloud-amd64) in 2.3 s",
    });
  });

  test("built elsewhere, failed, odd output, or not run", () => {
    const elsewhere = checkBuild({
      kind: "built",
      output: "built on 6.1.0-28-amd64\n",
      guestKernel: "6.12.57+deb13-cloud-amd64",
      seconds: 1,
    });
    assert.equal(elsewhere.status, "fail");
    assert.match(elsewhere.detail, /another builder took it/);
    const failed = checkBuild({ kind: "failed", message: "error: cannot connect to 'linux-builder'" });
    assert.equal(failed.status, "fail");
    assert.match(failed.detail, /cannot connect/);
    assert.equal(checkBuild({ kind: "built", output: "", guestKernel: "6.12", seconds: 1 }).status, "fail");
    assert.equal(checkBuild({ kind: "skipped", reason: "not run: the builder is not ready" }).status, "warn");
  });
});

describe("the report", () => {
  const checks: Check[] = [
    { name: "host", status: "ok", detail: "Linux 6.1.0" },
    { name: "port 31022", status: "fail", detail: "taken by nginx (pid 1)", fix: "Use --port." },
    { name: "builder", status: "warn", detail: "not running", fix: "Run `linux-builder start`." },
  ];

  test("aligned columns, the fix under its check, a summary; the worst status decides", () => {
    assert.equal(
      formatChecks(checks),
      [
        "ok    host        Linux 6.1.0",
        "FAIL  port 31022  taken by nginx (pid 1)",
        "                  fix: Use --port.",
        "warn  builder     not running",
        "                  fix: Run `linux-builder start`.",
        "",
        "1 failure, 1 warning.",
        "",
      ].join("\n"),
    );
    assert.equal(worstStatus(checks), "fail");
    assert.equal(worstStatus(checks.slice(2)), "warn");
    assert.equal(worstStatus(checks.slice(0, 1)), "ok");
    assert.match(formatChecks(checks.slice(0, 1)), /All checks passed\.\n$/);
  });
});
