import assert from "node:assert/strict";
import { stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { StatusReport } from "../../../src/app/builder-status.js";
import { poolLine, poolMember, poolStatus } from "../../../src/app/pool-status.js";
import type { Config } from "../../../src/config/config.js";
import type { Host } from "../../../src/host/host.js";
import type { InstalledBuilder } from "../../../src/host/install-registry.js";
import { serviceStatusOf } from "../../support/fake-service.js";

const builder: InstalledBuilder = {
  nixConfDir: "/etc/nix",
  sshConfigDir: "/etc/ssh/ssh_config.d",
  port: 31023,
  stateDir: "/home/me/.local/state/linux-builder-arm",
  arch: "arm64",
  systems: ["aarch64-linux", "x86_64-linux"],
};
const stopped = { running: false, ready: false, service: null, osService: null };

test("one line per builder: port, arch, systems, its state, its state folder; * marks the selected one", () => {
  assert.equal(
    poolLine(poolMember(builder, stopped, false)),
    "  127.0.0.1:31023  arm64  aarch64-linux,x86_64-linux  stopped  /home/me/.local/state/linux-builder-arm",
  );
  assert.match(
    poolLine(poolMember(builder, { ...stopped, running: true, ready: true }, true)),
    /^\* 127\.0\.0\.1:31023 {2}arm64 .* running, ready {2}\//,
  );
  assert.match(poolLine(poolMember(builder, { ...stopped, running: true }, false)), / running, not ready /);
});

test("behind a service, the service's view of the VM; a stopped one's service manager state", () => {
  const service = serviceStatusOf();
  const member = poolMember(builder, { ...stopped, service }, false);
  assert.equal(member.serviceVm, "off");
  assert.match(poolLine(member), / service up, VM off /);
  const managed = poolMember(
    builder,
    {
      ...stopped,
      osService: {
        manager: "systemd",
        name: "linux-builder-31023.service",
        file: "/etc/systemd/system/linux-builder-31023.service",
        state: "stopped",
      },
    },
    false,
  );
  assert.match(poolLine(managed), / stopped, its service stopped /);
});

test("a builder whose state folder is gone: its line says so, and the uninstall that removes it", () => {
  assert.equal(
    poolLine(poolMember({ ...builder, nixConfDir: "/tmp/my nix" }, stopped, false, true)),
    "  127.0.0.1:31023  arm64  aarch64-linux,x86_64-linux  state folder missing: `linux-builder uninstall --port 31023 --state-dir /home/me/.local/state/linux-builder-arm --nix-conf-dir '/tmp/my nix'` removes it  /home/me/.local/state/linux-builder-arm",
  );
});

test("poolStatus finds a recorded state folder gone (without probing it, so without making it again)", async () => {
  const gone = { ...builder, stateDir: join(tmpdir(), `lb-gone-${process.pid}`) };
  const host = { cwd: "/" } as Host;
  const config = { stateDir: "/elsewhere" } as Config;
  const [member] = await poolStatus(host, config, {} as StatusReport, [gone]);
  assert.equal(member?.stateDirMissing, true);
  assert.equal(member?.running, false);
  await assert.rejects(stat(gone.stateDir), { code: "ENOENT" });
});
