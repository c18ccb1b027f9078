/**
 * `doctor` against a real builder, under TCG: start it through the CLI, put its key where `install`
 * would (a temporary --nix-conf-dir), and `doctor --json` must find the port held by the builder, the
 * keys in order, the builder ready, and a check build that ran on the guest's kernel; then stop.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import type { Check } from "../../src/host/doctor.js";
import { builderNames } from "../../src/nix/builders.js";
import { stateLayout } from "../../src/vm/state.js";
import { freePort, testHome, testImage } from "../support/guest-vm.js";

const run = promisify(execFile);

describe("doctor (slow)", () => {
  let stateDir: string;
  let nixConfDir: string;
  let port: number;
  const flags = () => ["--state-dir", stateDir, "--port", String(port), "--accel", "tcg"];
  const cli = (command: string, ...args: string[]) =>
    run("node", ["bin/linux-builder.js", command, ...flags(), ...args], {
      env: { ...process.env, LINUX_BUILDER_HOME: testHome() },
      timeout: 300_000,
    });

  before(async () => {
    await testImage("amd64");
    stateDir = await mkdtemp(join(tmpdir(), "lb-doctor-state-"));
    nixConfDir = await mkdtemp(join(tmpdir(), "lb-doctor-nix-"));
    port = await freePort();
  });

  after(async () => {
    await cli("stop").catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true });
    await rm(nixConfDir, { recursive: true, force: true });
  });

  test("a running builder passes its checks, and a check build runs on it", {
    timeout: 5 * 60_000,
  }, async () => {
    await cli("start", "--cpus", "2", "--memory", "1024", "--disk", "8");
    // What `install` puts in the Nix config folder: the builder's key, 0600, and its .pub.
    const layout = stateLayout(stateDir);
    const installed = join(nixConfDir, builderNames(port).keyFile);
    await copyFile(layout.builderKey, installed);
    await copyFile(layout.builderPublicKey, `${installed}.pub`);

    // Exit 1 only if some check fails; either way the checks are on stdout.
    const { stdout } = await cli("doctor", "--json", "--nix-conf-dir", nixConfDir).catch(
      (error: { stdout?: string }) => ({ stdout: error.stdout ?? "" }),
    );
    const report = JSON.parse(stdout) as { ok: boolean; status: string; checks: Check[] };
    const byName = new Map(report.checks.map((c) => [c.name, c]));
    const expectOk = (name: string, detail: RegExp) => {
      const found = byName.get(name);
      assert.equal(found?.status, "ok", `${name}: ${JSON.stringify(found)}`);
      assert.match(found.detail, detail);
    };
    expectOk(`port ${port}`, /^held by the running builder \(pid \d+\)$/);
    expectOk("builder keys", /private keys 0600 and yours/);
    expectOk("installed key", /matches this builder's key/);
    expectOk("builder", /^running \(pid \d+, tcg, 127\.0\.0\.1:\d+\), ready$/);
    expectOk("qemu", /^qemu-system-x86_64 \d+\.\d+/);
    expectOk("check build", /^built on the builder \(kernel 6\.\d+\.\d+\+deb\d+-cloud-amd64\) in [0-9.]+ s$/);
    assert.ok(["ok", "warn"].includes(byName.get("accelerator")?.status ?? ""));

    await cli("stop");
    const { stdout: stopped } = await cli(
      "doctor",
      "--json",
      "--no-build",
      "--nix-conf-dir",
      nixConfDir,
    ).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? "" }));
    const stoppedReport = JSON.parse(stopped) as { checks: Check[] };
    const builder = stoppedReport.checks.find((c) => c.name === "builder");
    assert.equal(builder?.status, "warn");
    assert.equal(builder.detail, "not running");
    assert.equal(
      stoppedReport.checks.some((c) => c.name === "check build"),
      false,
    );
    assert.equal(stoppedReport.checks.find((c) => c.name === `port ${port}`)?.detail, "free on 127.0.0.1");
  });
});
