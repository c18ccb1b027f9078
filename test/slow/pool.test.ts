/**
 * A pool: two amd64 builders of different sizes installed side by side into the same test Nix and
 * ssh folders (each its own port, key, alias, machines block and state folder). One nix-build of six
 * independent derivations, with no local jobs and each builder taking at most one or two at once,
 * is spread over both by Nix itself: each builder's store holds some of the outputs. `status` lists
 * both from the record install keeps.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type BuilderPool, builderPool } from "../support/builder-pool.js";
import { derivation } from "../support/installed-builder.js";

describe("two builders as one pool (slow)", () => {
  let pool: BuilderPool;

  before(async () => {
    pool = await builderPool("pool", [
      { cpus: 1, memoryMiB: 1024, maxJobs: 1 },
      { cpus: 2, memoryMiB: 1536, maxJobs: 2 },
    ]);
  });

  after(async () => {
    await pool?.cleanup();
  });

  test("six independent builds through one nix-build land on both builders; status shows both", {
    timeout: 60 * 60_000,
  }, async (t) => {
    const [small, large] = pool.members as [BuilderPool["members"][0], BuilderPool["members"][0]];
    for (const member of [small, large]) {
      await member.cli("start");
      await member.install();
    }
    const machines = await readFile(join(pool.nixConfDir, "machines"), "utf8");
    for (const [member, jobs] of [
      [small, 1],
      [large, 2],
    ] as const) {
      assert.match(
        machines,
        new RegExp(
          `^ssh-ng://builder@linux-builder-${member.port} x86_64-linux,aarch64-linux \\S+ ${jobs} 1 `,
          "m",
        ),
      );
    }

    // Each build takes a while, so the first ones still run when the next are dispatched.
    const names = Array.from({ length: 6 }, (_, i) => `lb-pool-${i}`);
    const expression = `[ ${names.map((name) => `(${derivation(name, `sleep 15; echo ${name} > $out`)})`).join(" ")} ]`;
    const { stdout } = await pool.nixBuild(expression);
    const outputs = stdout
      .trim()
      .split("\n")
      .map((path) => basename(path));
    assert.equal(outputs.length, 6, stdout);

    const held = async (member: typeof small) => {
      const { stdout: listing } = await member.cli("ssh", "--", "ls", "/nix/store");
      const store = new Set(listing.split("\n"));
      return outputs.filter((output) => store.has(output));
    };
    const onSmall = await held(small);
    const onLarge = await held(large);
    assert.ok(onSmall.length > 0, `the small builder built none of ${outputs.join(", ")}`);
    assert.ok(onLarge.length > 0, `the large builder built none of ${outputs.join(", ")}`);
    assert.deepEqual([...new Set([...onSmall, ...onLarge])].sort(), [...outputs].sort());
    t.diagnostic(
      `built on the small builder (max jobs 1): ${onSmall.length}, on the large one (2): ${onLarge.length}`,
    );

    const { stdout: status } = await small.cli("status");
    assert.match(status, /^Builders: 2 installed \(\* the one below\)$/m);
    for (const member of [small, large]) {
      assert.match(
        status,
        new RegExp(
          `^[* ] 127\\.0\\.0\\.1:${member.port} {2}amd64 {2}x86_64-linux,aarch64-linux {2}running, ready {2}${member.stateDir}$`,
          "m",
        ),
      );
    }
    // doctor checks the small one in full and the large one's machines line, and names both.
    const doctor = await small
      .cli(
        "doctor",
        "--json",
        "--no-build",
        "--nix-conf-dir",
        pool.nixConfDir,
        "--ssh-config-dir",
        pool.sshConfigDir,
      )
      .catch((error: { stdout: string }) => error); // exits 1 when a host check fails (this test's folders are not the daemon's)
    const checks: { name: string; status: string; detail: string }[] = JSON.parse(doctor.stdout).checks;
    const others = checks.find((c) => c.name === "installed builders");
    assert.equal(others?.status, "ok", JSON.stringify(others));
    assert.match(
      others?.detail ?? "",
      new RegExp(
        `^2 installed; the checks above are for 127\\.0\\.0\\.1:${small.port} .*127\\.0\\.0\\.1:${large.port} \\(${large.stateDir}\\): ok, `,
      ),
    );

    const report = JSON.parse((await large.cli("status", "--json")).stdout);
    assert.deepEqual(
      report.builders.map((b: { port: number; selected: boolean }) => [b.port, b.selected]),
      [
        [small.port, false],
        [large.port, true],
      ].sort((a, b) => Number(a[0]) - Number(b[0])),
    );
  });
});
