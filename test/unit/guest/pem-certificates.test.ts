import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { certificateFingerprint, pemCertificates } from "../../../src/guest/pem-certificates.js";

const cert = (body: string) => `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;

test("only certificate blocks are taken, CRLF made LF: a private key in the same text is not", () => {
  const text = `junk\n${cert("QUFB")}-----BEGIN PRIVATE KEY-----\nSECRET\n-----END PRIVATE KEY-----\r\n${cert("QkJC").replace(/\n/g, "\r\n")}`;
  assert.deepEqual(pemCertificates(text), [cert("QUFB"), cert("QkJC")]);
  assert.deepEqual(pemCertificates("-----BEGIN PRIVATE KEY-----\nX\n-----END PRIVATE KEY-----\n"), []);
});

test("a certificate's fingerprint is the SHA-256 of its DER bytes, whatever the lines' wrapping", () => {
  const der = Buffer.from("a certificate's DER bytes, long enough to wrap over several lines of base64");
  const base64 = der.toString("base64");
  const expected = createHash("sha256").update(der).digest("hex");
  assert.equal(certificateFingerprint(cert(base64)), expected);
  const wrapped = base64.match(/.{1,16}/g)?.join("\r\n") ?? "";
  assert.equal(certificateFingerprint(cert(wrapped)), expected);
  assert.notEqual(certificateFingerprint(cert(Buffer.from("another").toString("base64"))), expected);
});
