import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { PackageRecord } from "../../../../src/image/debian/packages-index.js";
import { resolveClosure } from "../../../../src/image/debian/resolver.js";
import { index } from "./compact-index.js";

const names = (records: PackageRecord[]) => records.map((r) => `${r.name}=${r.version}`);

const ARCHIVE = [
  "app 1 amd64 ; Pre-Depends: libc6 (>= 2.36) ; Depends: mta | mail-transport-agent, awk, python3:any, libssl (>= 3.2), app-data, cyc-a, sh ; Recommends: recommended",
  "libc6 2.35 amd64",
  "libc6 2.41-10 amd64",
  "postfix 3 amd64 ; Provides: mail-transport-agent",
  "exim4 4 amd64 ; Provides: mail-transport-agent",
  "mawk 1.3 amd64 ; Provides: awk",
  "gawk 5 amd64 ; Provides: awk",
  "python3 3.13 amd64 ; Multi-Arch: allowed",
  "libssl 3.0 amd64",
  "libssl3t64 3.5 amd64 ; Provides: libssl (= 3.5)",
  "app-data 1 all ; Depends: libc6",
  "cyc-a 1 amd64 ; Depends: cyc-b",
  "cyc-b 1 amd64 ; Depends: cyc-a (>= 1)",
  "sh 1 all",
  "dash 0.5 amd64 ; Provides: sh",
  "recommended 1 amd64",
  "tool 1 amd64 ; Depends: postfix | exim4, libc6 (<< 2.40)",
  "only-arm 1 arm64",
  "needs-arm 1 amd64 ; Depends: only-arm",
  "needs-versioned-awk 1 amd64 ; Depends: awk (>= 1)",
  "a 1 amd64 ; Depends: b",
  "b 1 amd64 ; Depends: c (>= 2)",
  "c 1 amd64",
];

describe("resolveClosure", () => {
  const archive = index(ARCHIVE);

  test("follows Pre-Depends and Depends through alternatives, Provides, :any, all and cycles", () => {
    assert.deepEqual(names(resolveClosure(archive, ["app"], { arch: "amd64" })), [
      "app=1",
      "app-data=1", // Architecture: all
      "cyc-a=1", // the cycle ends
      "cyc-b=1",
      "exim4=4", // mta is missing, so the virtual mail-transport-agent: first provider by name
      "gawk=5", // several providers of awk, none chosen yet: first by name
      "libc6=2.41-10", // the highest version that satisfies >= 2.36
      "libssl3t64=3.5", // libssl 3.0 is too old; the versioned Provides satisfies >= 3.2
      "python3=3.13", // python3:any
      "sh=1", // a real package of the name wins over the providers
    ]);
  });

  test("an alternative that is already chosen is kept", () => {
    // postfix | exim4: exim4 is chosen through app, so postfix is not added.
    const result = names(resolveClosure(archive, ["app", "exim4", "gawk"], { arch: "amd64" }));
    assert.ok(!result.includes("postfix=3"));
    const withPostfix = names(resolveClosure(archive, ["postfix", "app"], { arch: "amd64" }));
    assert.ok(withPostfix.includes("postfix=3") && !withPostfix.includes("exim4=4"), withPostfix.join(" "));
  });

  test("a root that is only virtual resolves to a provider", () => {
    assert.deepEqual(names(resolveClosure(archive, ["mail-transport-agent"], { arch: "amd64" })), [
      "exim4=4",
    ]);
  });

  test("output is sorted by name and independent of the index order", () => {
    const reversed = index([...ARCHIVE].reverse());
    assert.deepEqual(
      names(resolveClosure(reversed, ["app"], { arch: "amd64" })),
      names(resolveClosure(archive, ["app"], { arch: "amd64" })),
    );
  });

  test("an unresolvable dependency names the whole chain", () => {
    assert.throws(
      () => resolveClosure(archive, ["a"], { arch: "amd64" }),
      (error: Error & { code?: string; hint?: string }) => {
        assert.equal(error.code, "debian.unresolvable");
        assert.ok(error.message.includes("a → b → c (>= 2) → (none available)"), error.message);
        assert.ok(error.message.includes("no package c satisfies >= 2"), error.message);
        assert.ok(error.message.includes("in test/main amd64"), error.message);
        assert.match(error.hint ?? "", /--extra-packages/);
        return true;
      },
    );
  });

  test("a root that does not exist is unresolvable with a chain of just the root", () => {
    assert.throws(() => resolveClosure(archive, ["nope"], { arch: "amd64" }), {
      code: "debian.unresolvable",
      message:
        "Cannot resolve the guest's packages: nope → (none available): no package named nope in test/main amd64.",
    });
  });

  test("a package of another architecture does not satisfy a dependency", () => {
    assert.throws(
      () => resolveClosure(archive, ["needs-arm"], { arch: "amd64" }),
      /needs-arm → only-arm → \(none/,
    );
  });

  test("an unversioned Provides does not satisfy a versioned dependency", () => {
    const noRealAwk = index(ARCHIVE.filter((l) => !l.startsWith("sh ")));
    assert.throws(() => resolveClosure(noRealAwk, ["needs-versioned-awk"], { arch: "amd64" }), {
      code: "debian.unresolvable",
      message: /needs-versioned-awk → awk \(>= 1\)/,
    });
  });

  test("a constraint that conflicts with an already chosen version is an error", () => {
    assert.throws(
      () => resolveClosure(archive, ["app", "tool"], { arch: "amd64" }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, "debian.unresolvable");
        assert.ok(error.message.includes("tool → libc6 (<< 2.40) → (conflict)"), error.message);
        assert.ok(
          error.message.includes("libc6 2.41-10 was already chosen (via app → libc6 (>= 2.36))"),
          error.message,
        );
        return true;
      },
    );
  });
});
