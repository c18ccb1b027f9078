import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { FileText } from "../../../../src/host/doctor/file-text.js";
import { checkMachinesFile, checkMachinesPin } from "../../../../src/host/doctor/machines.js";

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
      systems: ["x86_64-linux"] as readonly string[],
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

    test("a builder that also emulates a system: its line must list both (an older line with one fails)", () => {
      const both = { systems: ["x86_64-linux", "aarch64-linux"] as readonly string[] };
      const listed = checkMachinesPin({
        ...pinFacts(`ssh-ng://builder@${ALIAS} x86_64-linux,aarch64-linux ${KEY} 1 1 - - ${pin(HOST_KEY)}`),
        ...both,
      });
      assert.equal(listed.status, "ok");
      assert.match(listed.detail, /: x86_64-linux,aarch64-linux, key /);
      const older = checkMachinesPin({ ...pinFacts(line(HOST_KEY)), ...both });
      assert.equal(older.status, "fail");
      assert.match(older.detail, /serves x86_64-linux, not aarch64-linux/);
      assert.match(older.fix ?? "", /linux-builder install/);
    });

    test("a line listing a system the builder no longer serves (emulatedSystems now []) fails: Nix would send it builds the guest refuses", () => {
      const stale = checkMachinesPin(
        pinFacts(`ssh-ng://builder@${ALIAS} x86_64-linux,aarch64-linux ${KEY} 1 1 - - ${pin(HOST_KEY)}`),
      );
      assert.equal(stale.status, "fail");
      assert.equal(
        stale.detail,
        "line 1 of /etc/nix/machines lists aarch64-linux, which this builder does not serve (it serves x86_64-linux): Nix sends it builds the guest refuses",
      );
      assert.match(stale.fix ?? "", /^Run `linux-builder install` again/);
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
});
