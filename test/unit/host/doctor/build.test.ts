import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { checkBuild, checkBuildExpression, diagnoseBuildFailure } from "../../../../src/host/doctor/build.js";
import type { Check } from "../../../../src/host/doctor/check.js";

describe("the builder and the check build", () => {
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

describe("what the Nix daemon will use", () => {
  const KEY = "/etc/nix/linux-builder-31023_ed25519";
  const ALIAS = "linux-builder-31023";

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
