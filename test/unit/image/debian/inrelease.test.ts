import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as openpgp from "openpgp";
import { verifyInRelease } from "../../../../src/image/debian/inrelease.js";

const KEY_DATE = new Date("2026-01-01T00:00:00Z");
const SIGN_DATE = new Date("2026-01-02T00:00:00Z");
const NOW = new Date("2026-01-03T00:00:00Z");

const HASH_A = "a".repeat(64);
const HASH_B = "b".repeat(64);

function releaseText(extra = ""): string {
  return [
    "Origin: Test",
    "Suite: stable",
    "Codename: testing-codename",
    "Date: Fri, 02 Jan 2026 00:00:00 UTC",
    ...(extra === "" ? [] : [extra]),
    "Architectures: amd64 arm64",
    "Components: main",
    "SHA256:",
    ` ${HASH_A}  1234 main/binary-amd64/Packages.xz`,
    ` ${HASH_B}  5678 main/binary-arm64/Packages.xz`,
    "",
  ].join("\n");
}

async function makeKey(name: string, opts: { keyExpirationTime?: number } = {}) {
  const { privateKey, publicKey } = await openpgp.generateKey({
    userIDs: [{ name, email: "archive@example.org" }],
    date: KEY_DATE,
    format: "object",
    ...opts,
  });
  return { privateKey, publicKey };
}

async function clearsign(text: string, signingKeys: openpgp.PrivateKey[], date = SIGN_DATE): Promise<string> {
  const message = await openpgp.createCleartextMessage({ text });
  return openpgp.sign({ message, signingKeys, date });
}

const opts = { now: NOW, checkValidUntil: true, source: "test InRelease" };

describe("verifyInRelease", async () => {
  const archive = await makeKey("Test Archive Key");
  const stranger = await makeKey("Someone Else");

  test("a good signature verifies and reports the signer", async () => {
    const signed = await clearsign(releaseText(), [archive.privateKey]);
    const result = await verifyInRelease(signed, [archive.publicKey], opts);
    assert.equal(result.signer.fingerprint, archive.publicKey.getFingerprint().toUpperCase());
    assert.equal(result.signer.keyId, archive.publicKey.getKeyID().toHex().toUpperCase());
    assert.match(result.signer.userId, /Test Archive Key/);
    assert.equal(result.release.codename, "testing-codename");
    assert.deepEqual(result.release.architectures, ["amd64", "arm64"]);
    assert.deepEqual(result.release.sha256.get("main/binary-amd64/Packages.xz"), {
      size: 1234,
      sha256: HASH_A,
    });
    assert.equal(result.signedText, releaseText());
  });

  test("a tampered SHA256 line is refused as a bad signature", async () => {
    const signed = await clearsign(releaseText(), [archive.privateKey]);
    const tampered = signed.replace(HASH_A, "c".repeat(64));
    assert.notEqual(tampered, signed);
    await assert.rejects(verifyInRelease(tampered, [archive.publicKey], opts), {
      code: "debian.inrelease-bad-signature",
    });
  });

  test("a signature by a key outside the keyring is refused, naming its key ID", async () => {
    const signed = await clearsign(releaseText(), [stranger.privateKey]);
    const keyId = stranger.publicKey.getKeyID().toHex().toUpperCase();
    await assert.rejects(
      verifyInRelease(signed, [archive.publicKey], opts),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, "debian.inrelease-unknown-key");
        assert.ok(error.message.includes(keyId), error.message);
        return true;
      },
    );
  });

  test("one valid signature among several is enough, and it is the one reported", async () => {
    const signed = await clearsign(releaseText(), [stranger.privateKey, archive.privateKey]);
    const result = await verifyInRelease(signed, [archive.publicKey], opts);
    assert.equal(result.signer.fingerprint, archive.publicKey.getFingerprint().toUpperCase());
    assert.equal(result.signers.length, 1);
  });

  test("an unsigned Release is refused", async () => {
    await assert.rejects(verifyInRelease(releaseText(), [archive.publicKey], opts), {
      code: "debian.inrelease-unsigned",
    });
  });

  test("text outside the signed part is not parsed", async () => {
    const signed = await clearsign(releaseText(), [archive.privateKey]);
    const withTrailer = `${signed}\nCodename: injected\n`;
    const result = await verifyInRelease(withTrailer, [archive.publicKey], opts);
    assert.equal(result.release.codename, "testing-codename");
  });

  test("a Release past its Valid-Until is refused unless the check is off", async () => {
    const signed = await clearsign(releaseText("Valid-Until: Fri, 02 Jan 2026 12:00:00 UTC"), [
      archive.privateKey,
    ]);
    await assert.rejects(
      verifyInRelease(signed, [archive.publicKey], opts),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, "debian.release-expired");
        return true;
      },
    );
    const result = await verifyInRelease(signed, [archive.publicKey], { ...opts, checkValidUntil: false });
    assert.equal(result.release.validUntil?.toISOString(), "2026-01-02T12:00:00.000Z");
    // Before Valid-Until it passes with the check on.
    await verifyInRelease(signed, [archive.publicKey], { ...opts, now: new Date("2026-01-02T06:00:00Z") });
  });

  test("a signature by an expired key is refused", async () => {
    const shortLived = await makeKey("Short Lived Key", { keyExpirationTime: 7 * 24 * 3600 });
    const signed = await clearsign(releaseText(), [shortLived.privateKey]);
    // Valid while the key lives...
    await verifyInRelease(signed, [shortLived.publicKey], opts);
    // ...refused once it has expired.
    await assert.rejects(
      verifyInRelease(signed, [shortLived.publicKey], { ...opts, now: new Date("2026-02-01T00:00:00Z") }),
      { code: "debian.inrelease-key-expired" },
    );
  });

  test("a signature made after `now` is refused", async () => {
    const signed = await clearsign(releaseText(), [archive.privateKey]);
    await assert.rejects(
      verifyInRelease(signed, [archive.publicKey], { ...opts, now: new Date("2026-01-01T12:00:00Z") }),
      { code: "debian.inrelease-not-yet-valid" },
    );
  });
});
