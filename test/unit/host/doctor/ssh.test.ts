import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { FileText } from "../../../../src/host/doctor/file-text.js";
import { checkKnownHosts, checkSshAlias, parseSshG } from "../../../../src/host/doctor/ssh.js";

const ran = (stdout: string) => ({ kind: "ran", stdout }) as const;

describe("what the Nix daemon will use", () => {
  const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF/8g55zYl7I9cbjaqVXxE8XcD2wUsZQaVIu5s9ozlHr";
  const OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFkRLI6TWJpF+RL3h+ipWb+oR6eybVAsn2AmfsfmlIbS";

  const KEY = "/etc/nix/linux-builder-31023_ed25519";
  const ALIAS = "linux-builder-31023";

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
});
