import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultConfig, mergeConfig, parseConfigFile, parseConfigLayer } from "../../../src/config/config.js";

const host = { cpus: 8, memoryMiB: 16384, arch: "arm64" as const, stateDir: "/state" };

test("embedded defaults: all the CPUs, a quarter of the memory, port 31022", () => {
  const config = defaultConfig(host);
  assert.equal(config.cpus, 8);
  assert.equal(config.maxJobs, 8);
  assert.equal(config.memoryMiB, 4096);
  assert.equal(config.port, 31022);
  assert.equal(config.arch, "arm64");
  assert.equal(config.accel, "auto");
  assert.equal(defaultConfig({ ...host, cpus: 1, memoryMiB: 2048 }).memoryMiB, 1024);
  assert.equal(defaultConfig({ ...host, memoryMiB: 262144 }).memoryMiB, 8192);
});

test("flags override the file, which overrides the defaults", () => {
  const file = parseConfigFile('{ "cpus": 2, "port": 40000 }', "/cfg.json");
  const flags = parseConfigLayer({ port: 41000 }, "the command-line flags");
  const config = mergeConfig(defaultConfig(host), file, flags);
  assert.equal(config.cpus, 2);
  assert.equal(config.port, 41000);
  assert.equal(config.memoryMiB, 4096);
});

test("a bad setting names the file and the field", () => {
  assert.throws(() => parseConfigFile('{ "cpus": 0 }', "/cfg.json"), /Invalid setting in \/cfg\.json: cpus:/);
  assert.throws(() => parseConfigFile('{ "memoryMiB": 128 }', "/cfg.json"), /memoryMiB: at least 512/);
  assert.throws(
    () => parseConfigFile('{ "cpu": 2 }', "/cfg.json"),
    /Invalid setting in \/cfg\.json: cpu: unknown setting/,
  );
  assert.throws(() => parseConfigFile('{ "port": "22" }', "/cfg.json"), /port: Expected number/);
  assert.throws(() => parseConfigFile("{ cpus: 2 }", "/cfg.json"), /Cannot read the config file \/cfg\.json/);
  assert.throws(
    () => parseConfigLayer({ supportedFeatures: ["a b"] }, "the command-line flags"),
    /command-line flags: supportedFeatures\.0: a feature name/,
  );
  assert.deepEqual(parseConfigFile("", "/cfg.json"), {});
  assert.deepEqual(parseConfigFile(undefined, "/cfg.json"), {});
});

test("the user's caches: URLs and NAME:BASE64 keys, a bad one named", () => {
  const file = parseConfigFile(
    '{ "extraSubstituters": ["https://cache.example.org"], "extraTrustedPublicKeys": ["cache.example.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY="] }',
    "/cfg.json",
  );
  assert.deepEqual(file.extraSubstituters, ["https://cache.example.org"]);
  assert.throws(
    () => parseConfigFile('{ "extraSubstituters": ["cache.example.org"] }', "/cfg.json"),
    /extraSubstituters\.0: a cache URL/,
  );
  assert.throws(
    () =>
      parseConfigFile(
        '{ "extraTrustedPublicKeys": ["6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY="] }',
        "/cfg.json",
      ),
    /extraTrustedPublicKeys\.0: a Nix public key, NAME:BASE64/,
  );
  assert.deepEqual(defaultConfig(host).supportedFeatures, ["benchmark", "big-parallel", "nixos-test"]);
});

test("caCertificates: an absolute path, unset by default (the host's CAs are found at each boot)", () => {
  assert.equal(
    parseConfigFile('{ "caCertificates": "/etc/ssl/corp.pem" }', "/cfg.json").caCertificates,
    "/etc/ssl/corp.pem",
  );
  assert.throws(
    () => parseConfigFile('{ "caCertificates": "corp.pem" }', "/cfg.json"),
    /Invalid setting in \/cfg\.json: caCertificates: an absolute path to a PEM file/,
  );
  assert.equal(defaultConfig(host).caCertificates, undefined);
});
