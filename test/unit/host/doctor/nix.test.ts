import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseNixVersion } from "../../../../src/dotted-version.js";
import {
  checkNix,
  checkTrustedUser,
  machinesMention,
  nixRoute,
  parseNixConfig,
  settingList,
  type TrustFacts,
  trustedVia,
} from "../../../../src/host/doctor/nix.js";

const ran = (stdout: string) => ({ kind: "ran", stdout }) as const;

describe("Nix and trust", () => {
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

  const trust: TrustFacts = {
    user: { name: "alice", uid: 501, groups: ["staff"] },
    config: ran(showConfig(["root"])),
    route: "daemon",
    daemonBuilder: false,
    nixConf: "/etc/nix/nix.conf",
    restartDaemon: "sudo launchctl kickstart -k system/org.nixos.nix-daemon",
  };

  test("nix --version", () => {
    assert.deepEqual(checkNix(ran("nix (Nix) 2.8.0\n")), { name: "nix", status: "ok", detail: "Nix 2.8.0" });
    assert.deepEqual(parseNixVersion("nix (Determinate Nix 3.6.2) 2.29.0\n"), [2, 29, 0]);
    assert.equal(checkNix(ran("nix (Determinate Nix 3.6.2) 2.29.0\n")).detail, "Nix 2.29.0");
    const missing = checkNix({ kind: "missing" });
    assert.equal(missing.status, "fail");
    assert.match(missing.fix ?? "", /nixos\.org/);
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
