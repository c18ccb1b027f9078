import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import * as openpgp from "openpgp";
import { verifyInRelease } from "../../../../src/image/debian/inrelease.js";
import { loadKeyring, shippedKeyFiles, shippedKeysDir } from "../../../../src/image/debian/keyring.js";
import { parseReleaseDate } from "../../../../src/image/debian/release.js";

const TRIXIE_AUTOMATIC = "04B54C3CDCA79751B16BC6B5225629DF75B188BD";
const TRIXIE_STABLE = "41587F7DB8C774BCCF131416762F67A0B2C39DE4";
const BOOKWORM_AUTOMATIC = "B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8";

const tmp = mkdtempSync(join(tmpdir(), "debian-keyring-test-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe("loadKeyring", () => {
  test("finds the shipped keys/ directory at the package root", () => {
    const dir = shippedKeysDir();
    assert.ok(dir.endsWith("keys"), dir);
    assert.ok(existsSync(join(dir, "..", "package.json")));
    const names = shippedKeyFiles().map((f) => f.slice(dir.length + 1));
    assert.ok(names.includes("debian-archive-trixie-automatic.gpg"), names.join(", "));
    assert.ok(names.includes("debian-archive-bookworm-stable.gpg"), names.join(", "));
  });

  test("loads the shipped Debian keys without duplicates", async () => {
    const keys = await loadKeyring([], { hostKeyring: null });
    const fingerprints = keys.map((k) => k.getFingerprint().toUpperCase());
    for (const fp of [TRIXIE_AUTOMATIC, TRIXIE_STABLE, BOOKWORM_AUTOMATIC])
      assert.ok(fingerprints.includes(fp), fp);
    assert.equal(new Set(fingerprints).size, fingerprints.length);
  });

  test("dedupes a key given twice and accepts armored user keyrings", async () => {
    const { publicKey } = await openpgp.generateKey({ userIDs: [{ name: "Mirror Key" }], format: "object" });
    const armored = join(tmp, "mirror.asc");
    writeFileSync(armored, publicKey.armor());
    const binary = join(tmp, "mirror.gpg");
    writeFileSync(binary, publicKey.write());
    const shipped = shippedKeyFiles()[0] ?? assert.fail("no shipped key");
    const keys = await loadKeyring([armored, binary, shipped], { hostKeyring: null });
    const fingerprints = keys.map((k) => k.getFingerprint());
    assert.equal(fingerprints.filter((fp) => fp === publicKey.getFingerprint()).length, 1);
    assert.equal(new Set(fingerprints).size, fingerprints.length);

    const onlyMirror = await loadKeyring([armored], { shipped: false, hostKeyring: null });
    assert.deepEqual(
      onlyMirror.map((k) => k.getFingerprint()),
      [publicKey.getFingerprint()],
    );
  });

  test("a missing or unreadable user keyring is an error", async () => {
    await assert.rejects(loadKeyring([join(tmp, "nope.gpg")], { shipped: false, hostKeyring: null }), {
      code: "debian.keyring-missing",
    });
    const garbage = join(tmp, "garbage.gpg");
    writeFileSync(garbage, "this is not a key");
    await assert.rejects(loadKeyring([garbage], { shipped: false, hostKeyring: null }), {
      code: "debian.keyring-invalid",
    });
  });

  test("an unreadable host keyring is skipped", async () => {
    const garbage = join(tmp, "host-garbage.gpg");
    writeFileSync(garbage, "this is not a key");
    const keys = await loadKeyring([], { hostKeyring: garbage });
    assert.ok(keys.length > 0);
  });
});

describe("a real Debian InRelease (trixie)", async () => {
  const fixture = new URL("../../../fixtures/debian/trixie-InRelease", import.meta.url);
  const text = readFileSync(fixture, "utf8");
  const dateLine = /^Date: (.*)$/m.exec(text)?.[1] ?? assert.fail("the fixture has no Date");
  // Debian signs a minute or two after the Release's Date; an hour later keeps the test fixed in time.
  const now = new Date(parseReleaseDate(dateLine, "Date", "fixture").getTime() + 3600_000);
  const opts = { now, checkValidUntil: true, source: "fixture trixie InRelease" };

  test("verifies against the shipped keys and reports the Debian keys", async () => {
    const keys = await loadKeyring([], { hostKeyring: null });
    const result = await verifyInRelease(text, keys, opts);
    assert.equal(result.release.codename, "trixie");
    assert.equal(result.release.origin, "Debian");
    assert.match(result.signer.userId, /^Debian /);
    const signers = result.signers.map((s) => s.fingerprint).sort();
    assert.deepEqual(signers, [TRIXIE_AUTOMATIC, TRIXIE_STABLE, BOOKWORM_AUTOMATIC].sort());
    const entry = result.release.sha256.get("main/binary-amd64/Packages.xz");
    assert.ok(entry !== undefined && entry.size > 0 && /^[0-9a-f]{64}$/.test(entry.sha256));
  });

  test("verifies with loadKeyring() defaults too", async () => {
    const result = await verifyInRelease(text, await loadKeyring(), opts);
    assert.ok([TRIXIE_AUTOMATIC, TRIXIE_STABLE, BOOKWORM_AUTOMATIC].includes(result.signer.fingerprint));
  });

  test("flipping one byte of the signed body fails", async () => {
    const keys = await loadKeyring([], { hostKeyring: null });
    const at = text.indexOf("main/binary-amd64/Packages.xz") - 20; // inside a hash in the body
    const flipped = text.slice(0, at) + (text[at] === "0" ? "1" : "0") + text.slice(at + 1);
    assert.notEqual(flipped, text);
    await assert.rejects(verifyInRelease(flipped, keys, opts), { code: "debian.inrelease-bad-signature" });
  });

  test("is refused by a keyring without Debian's keys", async () => {
    const { publicKey } = await openpgp.generateKey({ userIDs: [{ name: "Other" }], format: "object" });
    await assert.rejects(verifyInRelease(text, [publicKey], opts), (error: Error & { code?: string }) => {
      assert.equal(error.code, "debian.inrelease-unknown-key");
      assert.ok(error.message.includes("6ED0E7B82643E131"), error.message);
      return true;
    });
  });
});
