import assert from "node:assert/strict";
import { test } from "node:test";
import { checkCaCertificates } from "../../../../src/host/doctor/ca-certificates.js";

test("ca-certificates: where the guest's extra CAs come from, a warning for an unusable default, a failure for the setting", () => {
  assert.deepEqual(checkCaCertificates({ pem: "", count: 0, source: "none" }), {
    name: "ca-certificates",
    status: "ok",
    detail: "Debian's set",
  });
  assert.equal(
    checkCaCertificates({
      pem: "x",
      count: 2,
      source: "/etc/nix/macos-keychain.crt (ssl-cert-file in /etc/nix/nix.conf:3)",
    }).detail,
    "Debian's set, and 2 from /etc/nix/macos-keychain.crt (ssl-cert-file in /etc/nix/nix.conf:3)",
  );
  // As status says it: those the current image's set has already are left out of the count.
  assert.equal(
    checkCaCertificates({
      pem: "",
      count: 0,
      source: "/etc/ssl/certs/ca.crt (NIX_SSL_CERT_FILE)",
      alreadyTrusted: 150,
    }).detail,
    "Debian's set, and 0 from /etc/ssl/certs/ca.crt (NIX_SSL_CERT_FILE) (150 more already in the guest's bundle)",
  );
  const warned = checkCaCertificates({
    pem: "",
    count: 0,
    source: "none",
    warning: "the host Nix's CA file /x does not exist",
  });
  assert.equal(warned.status, "warn");
  assert.match(warned.fix ?? "", /caCertificates/);
  const failed = checkCaCertificates({
    error: {
      message: "The caCertificates setting names /ca.pem, which does not exist",
      hint: "Set caCertificates…",
    },
  });
  assert.deepEqual(failed, {
    name: "ca-certificates",
    status: "fail",
    detail: "The caCertificates setting names /ca.pem, which does not exist",
    fix: "Set caCertificates…",
  });
});
