import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { checkPort, type PortFacts, parseLsofListeners } from "../../../../src/host/doctor/port.js";

describe("the port", () => {
  const facts: PortFacts = {
    port: 31022,
    hostPlatform: "linux",
    probe: "free",
    listeners: [],
    builder: undefined,
    service: undefined,
  };

  test("lsof -F output from Linux: one process, two addresses", () => {
    const text = "p14076\ncpython3\nLroot\nn127.0.0.1:40123\nn[::1]:40123\n";
    assert.deepEqual(parseLsofListeners(text), [
      { pid: 14076, command: "python3", user: "root", addresses: ["127.0.0.1:40123", "[::1]:40123"] },
    ]);
  });

  test("lsof -F output from macOS: file-descriptor fields skipped, several processes", () => {
    const text = [
      "p1",
      "claunchd",
      "Lroot",
      "f5",
      "n*:22",
      "f6",
      "n*:22",
      "p4242",
      "cqemu-system-aarch64",
      "Lalice",
      "f12",
      "n127.0.0.1:31022",
      "",
    ].join("\n");
    assert.deepEqual(parseLsofListeners(text), [
      { pid: 1, command: "launchd", user: "root", addresses: ["*:22"] },
      { pid: 4242, command: "qemu-system-aarch64", user: "alice", addresses: ["127.0.0.1:31022"] },
    ]);
    assert.deepEqual(parseLsofListeners(""), []);
  });

  test("free on 127.0.0.1", () => {
    assert.deepEqual(checkPort(facts), { name: "port 31022", status: "ok", detail: "free on 127.0.0.1" });
    assert.equal(checkPort({ ...facts, hostPlatform: "darwin" }).status, "ok");
    // Port 22 on Linux stays on loopback like any other.
    assert.equal(checkPort({ ...facts, port: 22 }).detail, "free on 127.0.0.1");
  });

  test("port 22 on macOS is free, but QEMU will listen on all addresses: a warning says so", () => {
    const result = checkPort({ ...facts, port: 22, hostPlatform: "darwin" });
    assert.equal(result.status, "warn");
    assert.match(result.detail, /^free, but port 22 is privileged/);
    assert.match(result.detail, /0\.0\.0\.0/);
  });

  test("held by our own builder: ok, naming its pid", () => {
    const result = checkPort({
      ...facts,
      probe: "in-use",
      listeners: parseLsofListeners("p777\ncqemu-system-x86_64\nLalice\nn127.0.0.1:31022\n"),
      builder: { pid: 777, port: 31022 },
    });
    assert.deepEqual(result, {
      name: "port 31022",
      status: "ok",
      detail: "held by the running builder (pid 777)",
    });
  });

  test("held by our own service (serve): its front door is right, whoever else is named", () => {
    const held = checkPort({
      ...facts,
      probe: "in-use",
      listeners: parseLsofListeners("p555\ncnode\nLalice\nn127.0.0.1:31022\n"),
      builder: { pid: 777, port: 31022 },
      service: { pid: 555, port: 31022 },
    });
    assert.deepEqual(held, {
      name: "port 31022",
      status: "ok",
      detail: "the front door of the service (linux-builder serve, pid 555)",
    });
    // lsof names no one: the service saying it listens there is believed, and said so.
    const unnamed = checkPort({
      ...facts,
      probe: "in-use",
      listeners: [],
      service: { pid: 555, port: 31022 },
    });
    assert.equal(unnamed.status, "ok");
    assert.match(unnamed.detail, /serve, pid 555\) that says it listens there \(lsof could not confirm\)/);
    // Another program on the port is still named, even with a service (listening elsewhere).
    const other = checkPort({
      ...facts,
      probe: "in-use",
      listeners: parseLsofListeners("p4321\ncnginx\nn127.0.0.1:31022\n"),
      service: { pid: 555, port: 31000 },
    });
    assert.equal(other.status, "fail");
    assert.match(other.detail, /nginx \(pid 4321\)/);
  });

  test("held by another process: fail, naming it and saying how to move", () => {
    const result = checkPort({
      ...facts,
      probe: "in-use",
      listeners: parseLsofListeners("p4321\ncnginx\nLwww-data\nn127.0.0.1:31022\n"),
      builder: { pid: 777, port: 31000 },
    });
    assert.equal(result.status, "fail");
    assert.equal(result.detail, "taken by nginx (pid 4321, user www-data) on 127.0.0.1:31022");
    assert.match(result.fix ?? "", /--port/);
  });

  test("taken, and lsof cannot say by whom", () => {
    const hidden = checkPort({ ...facts, probe: "in-use", listeners: [] });
    assert.equal(hidden.status, "fail");
    assert.match(hidden.detail, /a process lsof does not show you/);
    assert.match(hidden.fix ?? "", /sudo lsof -nP -iTCP:31022 -sTCP:LISTEN/);
    const noLsof = checkPort({ ...facts, probe: "in-use", listeners: undefined });
    assert.equal(noLsof.status, "fail");
    assert.match(noLsof.fix ?? "", /Install lsof/);
    // Our builder was started on this port: it is the one holding it.
    const ours = checkPort({
      ...facts,
      probe: "in-use",
      listeners: undefined,
      builder: { pid: 9, port: 31022 },
    });
    assert.equal(ours.status, "ok");
    assert.match(ours.detail, /running builder \(pid 9\)/);
  });

  test("a privileged port we may not bind fails; another error is a warning", () => {
    const denied = checkPort({ ...facts, port: 22, probe: "denied" });
    assert.equal(denied.status, "fail");
    assert.match(denied.detail, /permission denied/);
    assert.match(denied.fix ?? "", /above 1023/);
    assert.equal(checkPort({ ...facts, probe: { error: "EADDRNOTAVAIL" } }).status, "warn");
  });
});
