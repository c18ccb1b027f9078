import assert from "node:assert/strict";
import { test } from "node:test";
import { isLinuxBuilderError } from "../../../src/errors.js";
import { certificateFingerprint } from "../../../src/guest/pem-certificates.js";
import {
  type CaText,
  casBeyondImage,
  casSourceText,
  guestCas,
  type HostCaDeps,
  MAX_CA_BYTES,
} from "../../../src/host/ca-certificates.js";
import type { HostKind } from "../../../src/host/host.js";
import { platformOf } from "../../../src/host/platform/platform.js";

const cert = (body: string) => `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;

interface Fake {
  files?: Record<string, string>;
  env?: Record<string, string>;
  kind?: HostKind;
  security?: { code: number | null; stdout: string; stderr: string };
}

function fakeHost(fake: Fake): HostCaDeps & { commands: string[][] } {
  const commands: string[][] = [];
  return {
    commands,
    env: fake.env ?? {},
    systemCas: platformOf(fake.kind ?? "linux").caExport,
    nixConf: "/etc/nix/nix.conf",
    async readText(path): Promise<CaText> {
      const text = fake.files?.[path];
      return text === undefined ? { kind: "missing" } : { kind: "text", text };
    },
    async run(command, args) {
      commands.push([command, ...args]);
      return fake.security ?? { code: 0, stdout: "", stderr: "" };
    },
  };
}

test("a private key in the host's CA file never reaches the guest: only its certificate blocks", async () => {
  const text = `junk\n${cert("QUFB")}-----BEGIN PRIVATE KEY-----\nSECRET\n-----END PRIVATE KEY-----\n`;
  const host = fakeHost({ files: { "/both.pem": text }, env: { NIX_SSL_CERT_FILE: "/both.pem" } });
  const cas = await guestCas(undefined, host);
  assert.equal(cas.pem, cert("QUFB"));
  assert.equal(cas.count, 1);
});

test("the CAs sent are those beyond the image's set: Debian's (by fingerprint, however wrapped) and repeats left out", () => {
  const debian = [cert("QUFB"), cert("QkJC")].map(certificateFingerprint);
  const host = {
    pem: [
      cert("QUFB"),
      cert("Q09SUA=="),
      `-----BEGIN CERTIFICATE-----\nQk\nJC\n-----END CERTIFICATE-----\n`,
      cert("Q09SUA=="),
    ].join(""),
    count: 4,
    source: "/etc/ssl/certs/ca-certificates.crt (NIX_SSL_CERT_FILE)",
  };
  const beyond = casBeyondImage(host, debian);
  assert.deepEqual(beyond, { ...host, pem: cert("Q09SUA=="), count: 1, alreadyTrusted: 3 });
  assert.equal(
    casSourceText(beyond),
    "1 from /etc/ssl/certs/ca-certificates.crt (NIX_SSL_CERT_FILE) (3 more already in the guest's bundle)",
  );
  // All of them in the image's set: nothing sent, and status says why.
  const none = casBeyondImage({ ...host, pem: cert("QUFB"), count: 1 }, debian);
  assert.equal(none.pem, "");
  assert.equal(
    casSourceText(none),
    "0 from /etc/ssl/certs/ca-certificates.crt (NIX_SSL_CERT_FILE) (1 more already in the guest's bundle)",
  );
  // An image composed before it records no set: everything is sent, as before.
  assert.deepEqual(casBeyondImage(host, []), {
    ...host,
    pem: [
      cert("QUFB"),
      cert("Q09SUA=="),
      `-----BEGIN CERTIFICATE-----\nQk\nJC\n-----END CERTIFICATE-----\n`,
    ].join(""),
    count: 3,
    alreadyTrusted: 1,
  });
  assert.equal(casSourceText({ pem: "", count: 0, source: "none" }), "none");
  assert.equal(
    casSourceText({ ...host, pem: cert("Q09SUA=="), count: 1 }),
    "1 from /etc/ssl/certs/ca-certificates.crt (NIX_SSL_CERT_FILE)",
  );
});

test("the caCertificates setting wins over everything the host has", async () => {
  const host = fakeHost({
    files: { "/ca/corp.pem": cert("Q09SUA=="), "/etc/nix/nix.conf": "ssl-cert-file = /nix.pem\n" },
    env: { NIX_SSL_CERT_FILE: "/env.pem" },
    kind: "darwin",
  });
  const cas = await guestCas("/ca/corp.pem", host);
  assert.deepEqual(cas, { pem: cert("Q09SUA=="), count: 1, source: "/ca/corp.pem (caCertificates)" });
  assert.deepEqual(host.commands, []);
});

test("a caCertificates file that is missing, has no certificate or is too big is a config error naming it", async () => {
  const big = cert("A".repeat(MAX_CA_BYTES));
  const host = fakeHost({ files: { "/ca/empty.pem": "nothing here\n", "/ca/big.pem": big } });
  for (const [path, reason] of [
    ["/ca/none.pem", /does not exist/],
    ["/ca/empty.pem", /no -----BEGIN CERTIFICATE----- block/],
    ["/ca/big.pem", /more than the 1024 KiB/],
  ] as const) {
    await assert.rejects(guestCas(path, host), (error) => {
      assert.ok(isLinuxBuilderError(error));
      assert.equal(error.code, "config.ca-certificates");
      assert.match(error.message, new RegExp(`caCertificates setting names ${path}, which`));
      assert.match(error.message, reason);
      assert.match(error.hint ?? "", /config file/);
      return true;
    });
  }
});

test("by default: the host nix.conf's ssl-cert-file (through includes, the last one winning) over NIX_SSL_CERT_FILE", async () => {
  const host = fakeHost({
    files: {
      "/etc/nix/nix.conf": "ssl-cert-file = /first.pem\n!include nix.custom.conf\n",
      "/etc/nix/nix.custom.conf": "# Determinate's\nssl-cert-file = /etc/nix/macos-keychain.crt\n",
      "/etc/nix/macos-keychain.crt": cert("S0VZ") + cert("Q0hBSU4="),
    },
    env: { NIX_SSL_CERT_FILE: "/env.pem" },
    kind: "darwin",
  });
  const cas = await guestCas(undefined, host);
  assert.equal(cas.count, 2);
  assert.equal(cas.source, "/etc/nix/macos-keychain.crt (ssl-cert-file in /etc/nix/nix.custom.conf:2)");
  assert.deepEqual(host.commands, [], "the keychain is not asked when Nix has a CA file");
});

test("by default without an ssl-cert-file: NIX_SSL_CERT_FILE, then SSL_CERT_FILE", async () => {
  const files = { "/env.pem": cert("RU5W"), "/ssl.pem": cert("U1NM") };
  const both = await guestCas(
    undefined,
    fakeHost({ files, env: { NIX_SSL_CERT_FILE: "/env.pem", SSL_CERT_FILE: "/ssl.pem" } }),
  );
  assert.equal(both.source, "/env.pem (NIX_SSL_CERT_FILE)");
  const ssl = await guestCas(undefined, fakeHost({ files, env: { SSL_CERT_FILE: "/ssl.pem" } }));
  assert.equal(ssl.source, "/ssl.pem (SSL_CERT_FILE)");
  assert.equal(ssl.pem, cert("U1NM"));
});

test("a host Nix CA file that cannot be used is a warning, not a failure: the guest keeps Debian's set", async () => {
  const cas = await guestCas(
    undefined,
    fakeHost({ env: { NIX_SSL_CERT_FILE: "/gone.pem" }, kind: "darwin" }),
  );
  assert.equal(cas.pem, "");
  assert.match(cas.warning ?? "", /\/gone\.pem \(NIX_SSL_CERT_FILE\) does not exist.*set caCertificates/);
});

test("on macOS without a Nix CA file: the System keychain, through exactly this security command", async () => {
  const host = fakeHost({ kind: "darwin", security: { code: 0, stdout: cert("UFJPWFk="), stderr: "" } });
  const cas = await guestCas(undefined, host);
  assert.deepEqual(host.commands, [
    [
      "/usr/bin/security",
      "export",
      "-t",
      "certs",
      "-f",
      "pemseq",
      "-k",
      "/Library/Keychains/System.keychain",
    ],
  ]);
  assert.deepEqual(cas, { pem: cert("UFJPWFk="), count: 1, source: "the System keychain" });

  const empty = await guestCas(undefined, fakeHost({ kind: "darwin" }));
  assert.deepEqual(empty, { pem: "", count: 0, source: "none" });
  const failed = await guestCas(
    undefined,
    fakeHost({ kind: "darwin", security: { code: 1, stdout: "", stderr: "SecKeychainOpen: denied\n" } }),
  );
  assert.equal(failed.pem, "");
  assert.match(failed.warning ?? "", /security export .* failed \(SecKeychainOpen: denied\)/);
});

test("on Linux without a Nix CA file: nothing besides Debian's set, and no command runs", async () => {
  const host = fakeHost({ files: { "/etc/nix/nix.conf": "sandbox = true\n" } });
  assert.deepEqual(await guestCas(undefined, host), { pem: "", count: 0, source: "none" });
  assert.deepEqual(host.commands, []);
});
