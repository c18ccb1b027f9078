import assert from "node:assert/strict";
import { test } from "node:test";
import { CA_CERTIFICATES_DIR, debianCaBundle } from "../../../../src/image/guest/ca-bundle.js";

const pem = (name: string) => `-----BEGIN CERTIFICATE-----\n${name}\n-----END CERTIFICATE-----\n`;
const files = (entries: Record<string, string>) =>
  new Map(Object.entries(entries).map(([path, text]) => [CA_CERTIFICATES_DIR + path, Buffer.from(text)]));

test("the bundle lists the package's certificates in C-locale order, as ca-certificates.conf does", () => {
  const bundle = debianCaBundle(
    files({
      // Lower case after all upper case; '.' before '_'; non-ASCII by its UTF-8 bytes.
      "mozilla/certSIGN_ROOT_CA.crt": pem("certSIGN"),
      "mozilla/Certigna_Root_CA.crt": pem("Certigna_Root_CA"),
      "mozilla/Certigna.crt": pem("Certigna"),
      "mozilla/NetLock_Arany_=Class_Gold=_Főtanúsítvány.crt": pem("NetLock"),
      "mozilla/NetLock_Arany_=Class_Gold=_Fz.crt": pem("NetLock-z"),
      "mozilla/ACCVRAIZ1.crt": pem("ACCV"),
      "mozilla/AC_RAIZ_FNMT-RCM.crt": pem("AC_RAIZ"),
    }),
  ).toString();
  const order = [...bundle.matchAll(/BEGIN CERTIFICATE-----\n(.+)\n/g)].map((m) => m[1]);
  assert.deepEqual(order, [
    "ACCV",
    "AC_RAIZ",
    "Certigna",
    "Certigna_Root_CA",
    "NetLock-z",
    "NetLock",
    "certSIGN",
  ]);
});

test("each certificate ends with a newline (update-ca-certificates adds a missing one); empty files add nothing", () => {
  const bundle = debianCaBundle(
    files({
      "a/one.crt": "-----BEGIN CERTIFICATE-----\nONE\n-----END CERTIFICATE-----",
      "a/two.crt": pem("TWO"),
      "a/zero.crt": "",
    }),
  ).toString();
  assert.equal(bundle, `-----BEGIN CERTIFICATE-----\nONE\n-----END CERTIFICATE-----\n${pem("TWO")}`);
});

test("only *.crt files under /usr/share/ca-certificates are in the bundle", () => {
  const map = files({ "mozilla/a.crt": pem("A"), "mozilla/README": "not a certificate" });
  map.set("usr/sbin/update-ca-certificates", Buffer.from("#!/bin/sh\n"));
  map.set("usr/local/share/ca-certificates/local.crt", Buffer.from(pem("LOCAL")));
  assert.equal(debianCaBundle(map).toString(), pem("A"));
  assert.equal(debianCaBundle(new Map()).length, 0);
});
