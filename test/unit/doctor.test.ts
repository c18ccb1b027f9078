import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type Check,
  checkAccel,
  checkBuild,
  checkBuildExpression,
  checkBuilder,
  checkBuildersSetting,
  checkCaCertificates,
  checkHost,
  checkInstalledKey,
  checkKnownHosts,
  checkMachinesFile,
  checkMachinesPin,
  checkNix,
  checkPort,
  checkQemu,
  checkSshAlias,
  checkStateKeys,
  checkTrustedUser,
  compareVersions,
  diagnoseBuildFailure,
  type FileText,
  formatChecks,
  machinesMention,
  nixRoute,
  type PortFacts,
  parseLsofListeners,
  parseNixConfig,
  parseNixVersion,
  parseOsRelease,
  parseSshG,
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
    assert.deepEqual(parseNixVersion("nix (Determinate Nix 3.6.2) 2.29.0\n"), [2, 29, 0]);
    assert.equal(checkNix(ran("nix (Determinate Nix 3.6.2) 2.29.0\n")).detail, "Nix 2.29.0");
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

  test("built through ssh's open connection: said, as the host key was checked when it opened", () => {
    const result = checkBuild({
      kind: "built",
      output: "built on 6.12.117+deb13-cloud-amd64\n",
      seconds: 1.04,
      guestKernel: "6.12.117+deb13-cloud-amd64\n",
      reusedConnection: true,
    });
    assert.equal(result.status, "ok");
    assert.match(
      result.detail,
      /in 1\.0 s \(through ssh's open connection: the host key was checked when it opened/,
    );
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

describe("what the Nix daemon will use", () => {
  const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF/8g55zYl7I9cbjaqVXxE8XcD2wUsZQaVIu5s9ozlHr";
  const OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFkRLI6TWJpF+RL3h+ipWb+oR6eybVAsn2AmfsfmlIbS";
  const pin = (key: string) => Buffer.from(key).toString("base64");
  const KEY = "/etc/nix/linux-builder-31023_ed25519";
  const ALIAS = "linux-builder-31023";
  const line = (key: string, path = KEY) =>
    `ssh-ng://builder@${ALIAS} x86_64-linux ${path} 2 1 benchmark,big-parallel - ${pin(key)}`;
  const machines = (text: string): FileText => ({ kind: "text", text });
  const block = (entry: string) => `# BEGIN ${ALIAS}\n# managed by install\n${entry}\n# END ${ALIAS}\n`;

  describe("the machines file", () => {
    const files = (text: string, more: { path: string; content: FileText }[] = []) => ({
      path: "/etc/nix/machines",
      files: [{ path: "/etc/nix/machines", content: machines(text) }, ...more],
    });

    test("every line readable: ok, counting the builders", () => {
      const result = checkMachinesFile(files(`${block(line(HOST_KEY))}ssh://mac x86_64-darwin\n`));
      assert.equal(result.status, "ok");
      assert.equal(result.detail, "/etc/nix/machines: 2 builders, every line readable by Nix");
    });

    test("a line Nix refuses fails, naming the file and the line number", () => {
      const result = checkMachinesFile(
        files(`${block(line(HOST_KEY))}ssh-ng://builder@x x86_64-linux /Users/me/My Keys/k 1 1\n`),
      );
      assert.equal(result.status, "fail");
      assert.match(result.detail, /^Nix cannot read \/etc\/nix\/machines line 5 \(`ssh-ng:\/\/builder@x /);
      assert.match(result.detail, /Nix starts no remote build at all/);
      assert.equal(
        result.fix,
        "Fix or remove line 5 of /etc/nix/machines (a key path with white space, ';' or '#' cannot be written there: move the key).",
      );
    });

    test("what only older Nix refuses (a fractional speed factor, a ';' in a comment) depends on the host's Nix", () => {
      const text = `${block(line(HOST_KEY))}ssh://mac x86_64-darwin - 1 1.5\n# note; ssh://x\n`;
      const old = checkMachinesFile({ ...files(text), nixVersion: [2, 8, 0] });
      assert.equal(old.status, "fail");
      assert.match(
        old.detail,
        /line 5 .*speed factor 1\.5 is not a whole number, which Nix 2\.19 and before/,
      );
      assert.match(old.detail, /line 6 .*Nix 2\.28 and before read "ssh:\/\/x"/);
      assert.match(checkMachinesFile({ ...files(text), nixVersion: [2, 26, 3] }).detail, /line 6/);
      assert.equal(checkMachinesFile({ ...files(text), nixVersion: [2, 29, 0] }).status, "ok");
    });

    test("a bad line in a file it includes (@file) is named by that file", () => {
      const result = checkMachinesFile(
        files(`@/etc/nix/more\n${block(line(HOST_KEY))}`, [
          { path: "/etc/nix/more", content: machines("ssh://a x - many\n") },
        ]),
      );
      assert.equal(result.status, "fail");
      assert.match(result.detail, /\/etc\/nix\/more line 1 \(`ssh:\/\/a x - many`\): field 4 \(max jobs\)/);
    });

    test("missing: a warning to install; unreadable by this user: said, not failed", () => {
      const missing = checkMachinesFile({
        path: "/etc/nix/machines",
        files: [{ path: "/etc/nix/machines", content: { kind: "missing" } }],
      });
      assert.equal(missing.status, "warn");
      assert.match(missing.detail, /does not exist/);
      const rootOnly = checkMachinesFile({
        path: "/etc/nix/machines",
        files: [{ path: "/etc/nix/machines", content: { kind: "root-only" } }],
      });
      assert.equal(rootOnly.status, "warn");
      assert.equal(rootOnly.detail, "/etc/nix/machines: cannot read (root only)");
    });
  });

  describe("this builder's machines line and its pin", () => {
    const pinFacts = (
      text: string | FileText,
      hostPublicKey: string | undefined = `${HOST_KEY} root@linux-builder\n`,
    ) => ({
      path: "/etc/nix/machines",
      content: typeof text === "string" ? machines(text) : text,
      alias: ALIAS,
      system: "x86_64-linux",
      keyPath: KEY,
      hostPublicKey,
      hostPublicKeyPath: "/state/keys/ssh_host_ed25519_key.pub",
    });

    test("pinning this install's guest host key: ok", () => {
      const result = checkMachinesPin(pinFacts(block(line(HOST_KEY))));
      assert.equal(result.status, "ok");
      assert.equal(
        result.detail,
        `line 3 of /etc/nix/machines: x86_64-linux, key ${KEY}, pins this builder's host key`,
      );
    });

    test("pinning another key fails, naming the line, the state folder's key, and install as the fix", () => {
      const result = checkMachinesPin(pinFacts(block(line(OTHER_KEY))));
      assert.equal(result.status, "fail");
      assert.equal(
        result.detail,
        `line 3 of /etc/nix/machines pins a host key that is not this builder's (/state/keys/ssh_host_ed25519_key.pub): the daemon's ssh refuses the builder ("Host key verification failed")`,
      );
      assert.match(result.fix ?? "", /^Run `linux-builder install` again/);
    });

    test("no pin, another key file, another system: each fails", () => {
      const noPin = checkMachinesPin(pinFacts(`ssh-ng://builder@${ALIAS} x86_64-linux ${KEY} 1 1 - -\n`));
      assert.equal(noPin.status, "fail");
      assert.match(noPin.detail, /pins no host key: ssh looks the builder up in root's own known_hosts/);
      const otherKey = checkMachinesPin(pinFacts(line(HOST_KEY, "/etc/nix/builder_ed25519")));
      assert.equal(otherKey.status, "fail");
      assert.match(otherKey.detail, /logs in with \/etc\/nix\/builder_ed25519, not the installed key/);
      const otherSystem = checkMachinesPin(
        pinFacts(`ssh-ng://builder@${ALIAS} aarch64-linux ${KEY} 1 1 - - ${pin(HOST_KEY)}`),
      );
      assert.equal(otherSystem.status, "fail");
      assert.match(otherSystem.detail, /serves aarch64-linux, not x86_64-linux/);
    });

    test("no line, two lines, no file, or no host key yet: warnings", () => {
      assert.equal(checkMachinesPin(pinFacts("ssh://mac x86_64-darwin\n")).status, "warn");
      const twice = checkMachinesPin(pinFacts(`${line(HOST_KEY)}\n${line(HOST_KEY)}\n`));
      assert.equal(twice.status, "warn");
      assert.match(twice.detail, /2 lines for builder@linux-builder-31023 \(lines 1, 2\)/);
      assert.equal(checkMachinesPin(pinFacts({ kind: "missing" })).status, "warn");
      const noState = checkMachinesPin({ ...pinFacts(line(HOST_KEY)), hostPublicKey: undefined });
      assert.equal(noState.status, "warn");
      assert.match(noState.detail, /this install has none yet/);
    });
  });

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

  describe("root's ssh alias", () => {
    const sshG = (port: number, hostKeyAlias = ALIAS) =>
      ran(
        `host ${ALIAS}\nhostname 127.0.0.1\nport ${port}\nuser builder\nhostkeyalias ${hostKeyAlias}\nidentityfile ${KEY}\nglobalknownhostsfile /etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2\n`,
      );
    const ownFile = `Host ${ALIAS}\n  HostName 127.0.0.1\n  Port 31023\n  HostKeyAlias ${ALIAS}\n  User builder\n`;
    const alias = (over: Partial<Parameters<typeof checkSshAlias>[0]> = {}) =>
      checkSshAlias({
        path: `/etc/ssh/ssh_config.d/${ALIAS}.conf`,
        content: { kind: "text", text: ownFile },
        systemConfigPath: "/etc/ssh/ssh_config",
        systemConfig: { kind: "text", text: "Include /etc/ssh/ssh_config.d/*.conf\n" },
        included: true,
        effective: sshG(31023),
        alias: ALIAS,
        port: 31023,
        keyPath: KEY,
        ...over,
      });

    test("ssh -G output as options", () => {
      const options = parseSshG("hostname 127.0.0.1\nidentityfile /a\nidentityfile /b\nPort 22\n");
      assert.deepEqual(options.get("identityfile"), ["/a", "/b"]);
      assert.deepEqual(options.get("port"), ["22"]);
    });

    test("included and resolving to the builder: ok", () => {
      const result = alias();
      assert.equal(result.status, "ok");
      assert.match(
        result.detail,
        /^linux-builder-31023 → 127\.0\.0\.1:31023, HostKeyAlias linux-builder-31023/,
      );
    });

    test("the system ssh_config without the Include fails, naming /etc/ssh/ssh_config", () => {
      const result = alias({
        systemConfig: { kind: "text", text: "Host *\n  SendEnv LANG\n" },
        included: false,
      });
      assert.equal(result.status, "fail");
      assert.match(
        result.detail,
        /^\/etc\/ssh\/ssh_config does not include \/etc\/ssh\/ssh_config\.d\/linux-builder-31023\.conf/,
      );
      assert.equal(
        result.fix,
        "Add `Include /etc/ssh/ssh_config.d/*.conf` at the top of /etc/ssh/ssh_config.",
      );
    });

    test("the alias file missing fails; a port set before it (root's ~/.ssh/config) fails, saying so", () => {
      assert.equal(alias({ content: { kind: "missing" } }).status, "fail");
      const overridden = alias({ effective: sshG(22) });
      assert.equal(overridden.status, "fail");
      assert.match(
        overridden.detail,
        /Port 22, not 31023: .* says otherwise, so an entry ssh reads first \(root's ~\/\.ssh\/config/,
      );
      const stale = alias({
        content: { kind: "text", text: ownFile.replace("Port 31023", "Port 31022") },
        effective: sshG(31022),
      });
      assert.equal(stale.status, "fail");
      assert.equal(stale.fix, "Run `linux-builder install` again.");
    });
  });

  describe("root's ssh alias, applied or not", () => {
    const base = {
      path: `/etc/ssh/ssh_config.d/${ALIAS}.conf`,
      content: { kind: "text", text: `Host ${ALIAS}\n  Port 31023\n` } as FileText,
      systemConfigPath: "/etc/ssh/ssh_config",
      systemConfig: {
        kind: "text",
        text: "Host github.com\n  Include /etc/ssh/ssh_config.d/*.conf\n",
      } as FileText,
      included: true,
      alias: ALIAS,
      port: 31023,
      keyPath: KEY,
    };

    test("an Include ssh does not apply to the alias (inside a Host block): fail, saying to move it to the top", () => {
      const result = checkSshAlias({
        ...base,
        effective: ran(`host ${ALIAS}\nhostname ${ALIAS}\nport 22\nuser root\ncontrolmaster false\n`),
      });
      assert.equal(result.status, "fail");
      assert.match(
        result.detail,
        /^ssh applies nothing of \/etc\/ssh\/ssh_config\.d\/linux-builder-31023\.conf to linux-builder-31023/,
      );
      assert.match(result.fix ?? "", /to the top of \/etc\/ssh\/ssh_config, before any Host or Match line/);
    });

    test("the connection-reuse folder missing: ssh cannot connect, so it fails", () => {
      const effective = ran(
        `hostname 127.0.0.1\nport 31023\nuser builder\nhostkeyalias ${ALIAS}\ncontrolmaster auto\ncontrolpath /etc/nix/linux-builder-ssh/82a0c0bec1678b7a12f77195af086dbd8a88f991\n`,
      );
      const missing = checkSshAlias({ ...base, effective, controlDirExists: false });
      assert.equal(missing.status, "fail");
      assert.match(missing.detail, /sockets in \/etc\/nix\/linux-builder-ssh, which does not exist/);
      assert.equal(checkSshAlias({ ...base, effective, controlDirExists: true }).status, "ok");
    });
  });

  describe("other known_hosts entries for the builder", () => {
    const files = (user: FileText, global: FileText = { kind: "missing" }) => [
      { path: "/root/.ssh/known_hosts", kind: "user" as const, content: user },
      { path: "/etc/ssh/ssh_known_hosts", kind: "global" as const, content: global },
    ];
    const known = (user: FileText, global?: FileText) =>
      checkKnownHosts({ alias: ALIAS, port: 31023, pinnedKey: HOST_KEY, files: files(user, global) });

    test("none, or the same key: ok", () => {
      assert.equal(known({ kind: "missing" }).status, "ok");
      const same = known({ kind: "text", text: `${ALIAS} ${HOST_KEY}\n` });
      assert.equal(same.status, "ok");
      assert.equal(same.detail, "no other key for linux-builder-31023 in /root/.ssh/known_hosts");
    });

    test("another key in root's known_hosts: a warning naming the file (Nix's own known-hosts file replaces it)", () => {
      const result = known({ kind: "text", text: `github.com ${OTHER_KEY}\n${ALIAS} ${OTHER_KEY}\n` });
      assert.equal(result.status, "warn");
      assert.match(
        result.detail,
        /^\/root\/\.ssh\/known_hosts line 2 holds another key for linux-builder-31023 \(Nix's ssh does not read this file/,
      );
      assert.match(
        result.detail,
        /Nix's builds are not affected, but a plain `sudo ssh linux-builder-31023` refuses the builder/,
      );
      assert.equal(
        result.fix,
        "Remove the old key: sudo ssh-keygen -R 'linux-builder-31023' -f /root/.ssh/known_hosts",
      );
    });

    test("another key in the global file, or for [127.0.0.1]:PORT: warnings saying why builds still work", () => {
      const global = known({ kind: "missing" }, { kind: "text", text: `${ALIAS} ${OTHER_KEY}\n` });
      assert.equal(global.status, "warn");
      assert.match(
        global.detail,
        /\/etc\/ssh\/ssh_known_hosts line 1 .*accepts the host when any entry matches/,
      );
      const byAddress = known({ kind: "text", text: `[127.0.0.1]:31023 ${OTHER_KEY}\n` });
      assert.equal(byAddress.status, "warn");
      assert.match(
        byAddress.detail,
        /for \[127\.0\.0\.1\]:31023 \(ssh looks the builder up by its HostKeyAlias/,
      );
    });

    test("a hashed entry (HashKnownHosts yes) is found too", () => {
      const hashed = checkKnownHosts({
        alias: ALIAS,
        port: 31023,
        pinnedKey: HOST_KEY,
        files: files({
          kind: "text",
          text: `|1|pW9g6SFNjqb8LXsCe/A1OcI1eJc=|trjnQExNGhLK+Wm0e/r7DmhpMkw= ${OTHER_KEY}\n`,
        }),
      });
      assert.equal(hashed.status, "warn");
      assert.match(hashed.detail, /\/root\/\.ssh\/known_hosts line 1/);
    });

    test("the pinned key @revoked in the global file fails: ssh refuses it whatever Nix pins", () => {
      const result = known({ kind: "missing" }, { kind: "text", text: `@revoked ${ALIAS} ${HOST_KEY}\n` });
      assert.equal(result.status, "fail");
      assert.match(
        result.detail,
        /^\/etc\/ssh\/ssh_known_hosts line 1 marks the builder's host key @revoked/,
      );
    });

    test("root's known_hosts unreadable by a user: said, not failed", () => {
      const result = known({ kind: "root-only" });
      assert.equal(result.status, "ok");
      assert.equal(
        result.detail,
        "no known_hosts file to conflict with the pin; /root/.ssh/known_hosts: cannot read (root only)",
      );
    });
  });

  describe("a failed check build, diagnosed", () => {
    const files = {
      machines: "/etc/nix/machines",
      sshConfig: `/etc/ssh/ssh_config.d/${ALIAS}.conf`,
      systemSshConfig: "/etc/ssh/ssh_config",
      key: KEY,
      alias: ALIAS,
      system: "x86_64-linux",
    };
    // What Nix 2.8 and OpenSSH 9.2 printed here.
    const changed = [
      "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
      "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @",
      "Add correct host key in /tmp/nix-26137-0/host-key to get rid of this message.",
      `Host key for ${ALIAS} has changed and you have requested strict checking.`,
      "Host key verification failed.",
      `cannot build on 'ssh-ng://builder@${ALIAS}': error: cannot open connection to remote store 'ssh-ng://builder@${ALIAS}': error: unexpected end-of-file`,
      "error: unable to start any build; remote machines may not have all required system features.",
    ].join("\n");

    test("a changed host key points at the machines file's pin", () => {
      const diagnosis = diagnoseBuildFailure(changed, files);
      assert.match(
        diagnosis?.cause ?? "",
        /the key pinned in \/etc\/nix\/machines is not the one the builder has/,
      );
      assert.equal(diagnosis?.fix, "Run `linux-builder install` again.");
    });

    test("the connection-reuse folder missing (what ssh 9.2 says)", () => {
      const output = `unix_listener: cannot bind to path /etc/nix/linux-builder-ssh/94d1dbe2b6e6edc844af123d3f262b6074b103f4.Ygp36LNVVhmDYktU: No such file or directory\ncannot build on 'ssh-ng://builder@${ALIAS}'`;
      assert.match(
        diagnoseBuildFailure(output, files)?.cause ?? "",
        /ssh cannot make its connection-reuse socket/,
      );
    });

    test("revoked, unresolvable alias, refused key, bad machines line, no builder", () => {
      assert.match(
        diagnoseBuildFailure(
          `@       WARNING: REVOKED HOST KEY DETECTED!  @\nThe ED25519 host key for ${ALIAS} is marked as revoked.`,
          files,
        )?.cause ?? "",
        /@revoked/,
      );
      assert.match(
        diagnoseBuildFailure(`ssh: Could not resolve hostname ${ALIAS}: Name or service not known`, files)
          ?.fix ?? "",
        /Include \/etc\/ssh\/ssh_config\.d\/\*\.conf` at the top of \/etc\/ssh\/ssh_config/,
      );
      assert.match(
        diagnoseBuildFailure(
          `builder@127.0.0.1: Permission denied (publickey).\ncannot build on 'ssh-ng://builder@${ALIAS}'`,
          files,
        )?.cause ?? "",
        /refused the key \/etc\/nix\/linux-builder-31023_ed25519/,
      );
      assert.match(
        diagnoseBuildFailure(
          "error: bad machine specification: failed to convert column #3 in a row: 'x' to 'unsigned int'",
          files,
        )?.cause ?? "",
        /Nix cannot read \/etc\/nix\/machines/,
      );
      assert.match(
        diagnoseBuildFailure(
          "Failed to find a machine for remote build!\nerror: unable to start any build",
          files,
        )?.cause ?? "",
        /builders setting does not read \/etc\/nix\/machines/,
      );
    });

    test("through the daemon, only Nix's line reaches the client: a connection failure, the daemon's log for ssh's reason", () => {
      const daemonOutput = [
        `cannot build on 'ssh-ng://builder@${ALIAS}': error: cannot open connection to remote store 'ssh-ng://builder@${ALIAS}': error: unexpected end-of-file`,
        "Failed to find a machine for remote build!",
        "error: unable to start any build; remote machines may not have all required system features.",
      ].join("\n");
      const diagnosis = diagnoseBuildFailure(daemonOutput, files);
      assert.match(diagnosis?.cause ?? "", /^Nix could not connect to builder@linux-builder-31023/);
      assert.match(diagnosis?.fix ?? "", /journalctl -u nix-daemon/);
      assert.equal(diagnosis?.generic, true);
      const failing: Check = { name: "machines line", status: "fail", detail: "…", fix: "…" };
      const verdict = checkBuild({ kind: "failed", message: "…", ...(diagnosis ? { diagnosis } : {}) }, [
        failing,
      ]);
      assert.equal(verdict.fix, "See the failing machines line check above: it names the file to fix.");
      const alone = checkBuild({ kind: "failed", message: "…", ...(diagnosis ? { diagnosis } : {}) });
      assert.match(alone.fix ?? "", /^The Nix daemon's log says why/);
    });

    test("ssh's complaint about another builder is not blamed on ours", () => {
      const other =
        "cannot build on 'ssh://other': error: cannot connect to 'other': ssh: Could not resolve hostname other: Name or service not known\nerror: unable to start any build";
      assert.match(diagnoseBuildFailure(other, files)?.cause ?? "", /Nix has no builder for x86_64-linux/);
      assert.equal(diagnoseBuildFailure("something else entirely", files), undefined);
    });

    test("the verdict names the cause, the failing checks above, and the fix", () => {
      const failing: Check = { name: "machines line", status: "fail", detail: "…", fix: "…" };
      const result = checkBuild(
        {
          kind: "failed",
          message: "Host key verification failed.",
          diagnosis: {
            cause: "ssh refused the builder's host key",
            fix: "Run `linux-builder install` again.",
          },
        },
        [failing],
      );
      assert.equal(result.status, "fail");
      assert.equal(
        result.detail,
        "nix-build through the builder, as the Nix daemon runs it, failed: ssh refused the builder's host key (Host key verification failed.)",
      );
      assert.equal(
        result.fix,
        "See the failing machines line check above. Run `linux-builder install` again.",
      );
    });
  });
});

test("ca-certificates: where the guest's extra CAs come from, a warning for an unusable default, a failure for the setting", () => {
  assert.deepEqual(checkCaCertificates({ pem: "", count: 0, source: "none" }), {
    name: "ca-certificates",
    status: "ok",
    detail: "Debian's set",
  });
  assert.equal(
    checkCaCertificates({
      pem: "x",
      count: 2,
      source: "/etc/nix/macos-keychain.crt (ssl-cert-file in /etc/nix/nix.conf:3)",
    }).detail,
    "Debian's set, and 2 from /etc/nix/macos-keychain.crt (ssl-cert-file in /etc/nix/nix.conf:3)",
  );
  const warned = checkCaCertificates({
    pem: "",
    count: 0,
    source: "none",
    warning: "the host Nix's CA file /x does not exist",
  });
  assert.equal(warned.status, "warn");
  assert.match(warned.fix ?? "", /caCertificates/);
  const failed = checkCaCertificates({
    error: {
      message: "The caCertificates setting names /ca.pem, which does not exist",
      hint: "Set caCertificates…",
    },
  });
  assert.deepEqual(failed, {
    name: "ca-certificates",
    status: "fail",
    detail: "The caCertificates setting names /ca.pem, which does not exist",
    fix: "Set caCertificates…",
  });
});
