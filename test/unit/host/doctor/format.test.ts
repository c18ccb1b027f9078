import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Check } from "../../../../src/host/doctor/check.js";
import { formatChecks, worstStatus } from "../../../../src/host/doctor/format.js";

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
