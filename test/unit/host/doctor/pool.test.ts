import assert from "node:assert/strict";
import { test } from "node:test";
import { check } from "../../../../src/host/doctor/check.js";
import { checkPool, unreadablePool } from "../../../../src/host/doctor/pool.js";
import type { InstalledBuilder } from "../../../../src/host/install-registry.js";

const other: InstalledBuilder = {
  nixConfDir: "/etc/nix",
  sshConfigDir: "/etc/ssh/ssh_config.d",
  port: 31023,
  stateDir: "/s/arm",
  arch: "arm64",
  systems: ["aarch64-linux", "x86_64-linux"],
};
const selected = { port: 31022, stateDir: "/s/default" };

test("alone in the record: nothing more to say", () => {
  assert.equal(checkPool({ selected, others: [] }), undefined);
});

test("names the builder checked in full, and each other one's machines line verdict", () => {
  const result = checkPool({
    selected,
    others: [{ builder: other, machines: check("machines line", "ok", "line 3 of /etc/nix/machines: ok") }],
  });
  assert.equal(result?.status, "ok");
  assert.equal(
    result?.detail,
    "2 installed; the checks above are for 127.0.0.1:31022 (/s/default); the others' machines lines: 127.0.0.1:31023 (/s/arm): ok, line 3 of /etc/nix/machines: ok",
  );
  assert.equal(result?.fix, undefined);
});

test("the worst of the others' verdicts, and how to check that one in full", () => {
  const result = checkPool({
    selected,
    others: [
      { builder: other, machines: check("machines line", "fail", "pins another key") },
      { builder: { ...other, port: 31024 }, machines: check("machines line", "warn", "no line") },
    ],
  });
  assert.equal(result?.status, "fail");
  assert.match(
    result?.detail ?? "",
    /^3 installed; .*31023 \(\/s\/arm\): fail, pins another key; .*31024 .*: warn, no line$/,
  );
  assert.match(result?.fix ?? "", /`linux-builder doctor --state-dir \/s\/arm --port 31023`/);
});

test("another builder whose state folder is gone: a warning saying the uninstall that removes it", () => {
  const result = checkPool({
    selected,
    others: [{ builder: other, machines: check("machines line", "ok", "line 3: ok"), stateDirMissing: true }],
  });
  assert.equal(result?.status, "warn");
  const uninstall = "`linux-builder uninstall --port 31023 --state-dir /s/arm` removes it";
  assert.match(
    result?.detail ?? "",
    new RegExp(
      `: warn, line 3: ok; state folder missing: ${uninstall.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`,
    ),
  );
  assert.equal(
    result?.fix,
    `Its state folder missing: ${uninstall} (from Nix's machines file and the record).`,
  );
});

test("a record that cannot be read: a failing check of its own, saying the problem and what to do", () => {
  const result = unreadablePool(
    "/h/installed-builders.json, the record of installed builders, cannot be read: not JSON",
    "delete it",
  );
  assert.deepEqual(result, {
    name: "installed builders",
    status: "fail",
    detail: "/h/installed-builders.json, the record of installed builders, cannot be read: not JSON",
    fix: "delete it",
  });
});
