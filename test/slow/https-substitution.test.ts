/**
 * Substitution over HTTPS from the guest, under TCG, through the host's Nix and exactly what install
 * writes: the host serves a signed binary cache over HTTPS with a throw-away CA; the guest, given
 * that CA (caCertificates, after the host's own set, which the image has already and is left out) and the cache (extraSubstituters, extraTrustedPublicKeys), substitutes a
 * build's input from it with builders-use-substitutes instead of the host copying it. Given an
 * unrelated CA instead, it rejects the cache's certificate and the host copies the input: the build
 * still works.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { certificateFingerprint, pemCertificates } from "../../src/guest/pem-certificates.js";
import {
  type HttpsCache,
  makeServerCert,
  makeTestCa,
  serveHttpsCache,
  type TestCa,
} from "../support/https-cache.js";
import { type InstalledBuilder, installedBuilder } from "../support/installed-builder.js";

/** This host's CA set (Debian's ca-certificates, as CI installs it). */
const HOST_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

const run = promisify(execFile);

describe("substitution over HTTPS with the user's CA (slow)", () => {
  const nonce = `${Date.now()}-${process.pid}`;
  const keyName = `lb-test-cache-${nonce}`;
  let builder: InstalledBuilder;
  let cache: HttpsCache;
  let cacheDir: string;
  let secretKeyFile: string;
  let publicKey: string;
  let testCa: TestCa;
  let otherCa: TestCa;

  const configure = (caCertificates: string) =>
    builder.configure({
      caCertificates,
      extraSubstituters: [`https://10.0.2.2:${cache.port}`],
      extraTrustedPublicKeys: [publicKey],
    });
  /** A path in the host's store that the cache also has, signed with the cache's key. */
  const cachedDependency = async (name: string): Promise<string> => {
    const file = join(builder.home, `${name}-${nonce}`);
    await writeFile(file, `${name} ${nonce}\n`);
    const path = (await run("nix-store", ["--add", file])).stdout.trim();
    await run("nix", [
      ...["--experimental-features", "nix-command", "copy"],
      ...["--to", `file://${cacheDir}?secret-key=${secretKeyFile}`, path],
    ]);
    return path;
  };
  /** nix-build through the machines file and ssh alias install wrote, the guest substituting inputs. */
  const buildUsing = (dependency: string) =>
    builder.nixBuild(
      `derivation { name = "lb-uses-${basename(dependency).slice(33)}"; system = "x86_64-linux"; builder = "/bin/sh"; dep = builtins.storePath "${dependency}"; args = [ "-c" "read x < $dep; echo \\"got $x\\" > $out" ]; }`,
      { extraArgs: ["--option", "builders-use-substitutes", "true"] },
    );
  /** The guest's signatures on a store path: the cache's key when it was substituted from there. */
  const guestSignatures = async (path: string) =>
    (await builder.cli("ssh", "--", "nix", "path-info", "--sigs", path)).stdout;
  const narinfoOf = (path: string) => `/${basename(path).slice(0, 32)}.narinfo`;

  before(async () => {
    builder = await installedBuilder({ name: "https-substitution", cpus: 2, memoryMiB: 1024, diskGiB: 8 });
    const { home } = builder;
    const tls = join(home, "tls");
    await mkdir(tls);
    testCa = await makeTestCa(tls, `lb-test-ca-${nonce}`);
    otherCa = await makeTestCa(tls, `lb-unrelated-ca-${nonce}`);
    // 10.0.2.2 is how the guest reaches the host's 127.0.0.1 under QEMU user networking.
    cacheDir = join(home, "binary-cache");
    cache = await serveHttpsCache(cacheDir, await makeServerCert(tls, testCa, ["10.0.2.2", "127.0.0.1"]));
    secretKeyFile = join(home, "cache.secret");
    const publicKeyFile = join(home, "cache.public");
    await run("nix-store", ["--generate-binary-cache-key", keyName, secretKeyFile, publicKeyFile]);
    publicKey = (await readFile(publicKeyFile, "utf8")).trim();
  });

  after(async () => {
    // Stopped first: closing the cache waits for the guest's connections to it.
    await builder?.cli("stop").catch(() => undefined);
    await cache?.close();
    await builder?.cleanup();
  });

  test("given the cache's CA, the guest substitutes the build's input from the cache over HTTPS", {
    timeout: 30 * 60_000,
  }, async () => {
    const dependency = await cachedDependency("lb-substituted");
    const { cli } = builder;
    // The test CA after the host's own set, as a host's CA file is: mostly the public roots the
    // image's set has already, which are left out.
    const hostSet = await readFile(HOST_BUNDLE, "utf8");
    const caFile = join(builder.home, "tls", "host-and-test.pem");
    await writeFile(caFile, `${hostSet}${await readFile(testCa.certFile, "utf8")}`);
    await configure(caFile);
    await cli("start");
    await builder.install();
    const status = (await cli("status")).stdout;
    const cas = new RegExp(
      `^CAs: +Debian's set, and (\\d+) from ${caFile} \\(caCertificates\\) \\((\\d+) more already in the guest's bundle\\)$`,
      "m",
    ).exec(status);
    assert.ok(cas, status);
    const [sent, leftOut] = [Number(cas[1]), Number(cas[2])];
    assert.equal(sent + leftOut, pemCertificates(hostSet).length + 1);
    assert.ok(leftOut > 100, "the host's public roots are mostly Debian's");
    // The guest's bundle: Debian's set, then what was sent (the test CA last), each certificate once.
    const bundle = (await cli("ssh", "--", "cat", "/etc/ssl/ca-certificates.crt")).stdout;
    assert.ok(
      bundle.endsWith(await readFile(testCa.certFile, "utf8")),
      "the test CA ends the guest's bundle",
    );
    const fingerprints = pemCertificates(bundle).map(certificateFingerprint);
    assert.ok(fingerprints.length - sent > 100, "Debian's set comes first");
    assert.equal(new Set(fingerprints).size, fingerprints.length, "no certificate twice");

    const seenBefore = cache.requests.length;
    const built = await buildUsing(dependency);
    assert.equal(await readFile(built.stdout.trim(), "utf8"), `got lb-substituted ${nonce}\n`);

    const requests = cache.requests.slice(seenBefore);
    assert.ok(
      requests.some((r) => r.path === narinfoOf(dependency) && r.status === 200),
      `the cache served the input's narinfo: ${JSON.stringify(requests)}`,
    );
    assert.ok(
      requests.some((r) => r.method === "GET" && r.path.startsWith("/nar/") && r.status === 200),
      `the cache served the input's NAR: ${JSON.stringify(requests)}`,
    );
    // The guest's copy carries the cache's signature: it came from there, not from the host (whose
    // copy of the path has no signature).
    assert.match(await guestSignatures(dependency), new RegExp(`${keyName}:`));
    assert.match(
      built.stderr,
      new RegExp(`copying path '${dependency}' from 'https://10\\.0\\.2\\.2:${cache.port}'`),
    );
    assert.doesNotMatch(built.stderr, new RegExp(`copying path '${dependency}' to 'ssh-ng://`));
  });

  test("given an unrelated CA, the guest rejects the cache's certificate and the host copies the input", {
    timeout: 30 * 60_000,
  }, async () => {
    const { cli } = builder;
    const dependency = await cachedDependency("lb-copied");
    await cli("stop");
    await configure(otherCa.certFile);
    await cli("start");

    const seenBefore = cache.requests.length;
    const connectedBefore = cache.connections.accepted;
    const built = await buildUsing(dependency);
    assert.equal(await readFile(built.stdout.trim(), "utf8"), `got lb-copied ${nonce}\n`);

    // The guest connected, rejected the server's certificate and asked for nothing; the host copied.
    assert.ok(cache.connections.accepted > connectedBefore, "the guest connected to the cache");
    assert.deepEqual(cache.requests.slice(seenBefore), [], "no request got through");
    const cacheUrl = `https://10\\.0\\.2\\.2:${cache.port}`;
    assert.match(built.stderr, new RegExp(`unable to download '${cacheUrl}/nix-cache-info': .*certificate`));
    assert.match(built.stderr, new RegExp(`copying path '${dependency}' to 'ssh-ng://`));
    assert.doesNotMatch(await guestSignatures(dependency), new RegExp(`${keyName}:`));
    assert.match((await cli("stop")).stderr, /powered off cleanly/);
  });
});
