/** Which service install set up for a builder, and what its manager says of it: exact argv through the fake host. */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  builderService,
  definitionOwner,
  installedService,
  serviceCondition,
  serviceManagerState,
} from "../../../../src/service/os/installed-service.js";
import { SERVICE_MARKER } from "../../../../src/service/os/service-definition.js";
import { fakeIo } from "../../host/platform/fake-io.js";

test("the unit install wrote for a builder is found by its port's name; a unit not ours is not", async () => {
  const units = {
    "/etc/systemd/system/linux-builder.service": `# ${SERVICE_MARKER}\n[Unit]\n`,
    "/etc/systemd/system/linux-builder-31023.service": "[Unit]\nDescription=the administrator's own\n",
  };
  const systemd = fakeIo({ files: { "/run/systemd/system": "", ...units } });
  assert.deepEqual(await installedService({ kind: "linux" }, 31022, systemd), {
    manager: "systemd",
    name: "linux-builder.service",
    file: "/etc/systemd/system/linux-builder.service",
  });
  assert.equal(await installedService({ kind: "linux" }, 31023, systemd), undefined);
  assert.equal(await installedService({ kind: "linux" }, 31024, systemd), undefined);
  // No systemd running (a container): no service, whatever files there are.
  assert.equal(await installedService({ kind: "linux" }, 31022, fakeIo({ files: units })), undefined);
});

test("the launch daemon install wrote is found by its label", async () => {
  const io = fakeIo({
    files: { "/Library/LaunchDaemons/local.linux-builder-31023.plist": `<!-- ${SERVICE_MARKER} -->\n` },
  });
  assert.deepEqual(await installedService({ kind: "darwin" }, 31023, io), {
    manager: "launchd",
    name: "local.linux-builder-31023",
    file: "/Library/LaunchDaemons/local.linux-builder-31023.plist",
  });
});

const PRINTED = "system/local.linux-builder = {\n\tactive count = 1\n\tstate = running\n\tpid = 812\n}\n";

test("launchd's state: launchctl print system/<label>, running or not, loaded or not", async () => {
  const running = fakeIo({
    commands: { "launchctl print system/local.linux-builder": { kind: "ran", stdout: PRINTED } },
  });
  const service = { manager: "launchd", name: "local.linux-builder" } as const;
  assert.equal(await serviceManagerState(service, running), "running");
  assert.deepEqual(running.ran, [["launchctl", "print", "system/local.linux-builder"]]);
  const waiting = fakeIo({
    commands: {
      "launchctl print system/local.linux-builder": {
        kind: "ran",
        stdout: PRINTED.replace("state = running", "state = not running"),
      },
    },
  });
  assert.equal(await serviceManagerState(service, waiting), "stopped");
  const unloaded = fakeIo({
    commands: {
      "launchctl print system/local.linux-builder": {
        kind: "failed",
        message: 'Could not find service "local.linux-builder" in domain for system',
      },
    },
  });
  assert.equal(await serviceManagerState(service, unloaded), "not-loaded");
  // What install plans from asks launchd once, the same way.
  assert.deepEqual(await serviceCondition(service, unloaded), { state: "not-loaded" });
  assert.deepEqual(unloaded.ran, [
    ["launchctl", "print", "system/local.linux-builder"],
    ["launchctl", "print", "system/local.linux-builder"],
  ]);
});

test("systemd's state: systemctl is-active <unit>, which fails for anything but active", async () => {
  const service = { manager: "systemd", name: "linux-builder.service" } as const;
  const active = fakeIo({
    commands: { "systemctl is-active linux-builder.service": { kind: "ran", stdout: "active\n" } },
  });
  assert.equal(await serviceManagerState(service, active), "running");
  assert.deepEqual(active.ran, [["systemctl", "is-active", "linux-builder.service"]]);
  const inactive = fakeIo({
    commands: { "systemctl is-active linux-builder.service": { kind: "failed", message: "inactive" } },
  });
  assert.equal(await serviceManagerState(service, inactive), "stopped");
  assert.equal(await serviceManagerState(service, fakeIo({})), "unknown");
});

test("systemd's condition for install: is-active, then is-enabled (disabled and masked fail)", async () => {
  const service = { manager: "systemd", name: "linux-builder.service" } as const;
  const disabled = fakeIo({
    commands: {
      "systemctl is-active linux-builder.service": { kind: "ran", stdout: "active\n" },
      "systemctl is-enabled linux-builder.service": { kind: "failed", message: "disabled" },
    },
  });
  assert.deepEqual(await serviceCondition(service, disabled), { state: "running", enabled: false });
  assert.deepEqual(disabled.ran, [
    ["systemctl", "is-active", "linux-builder.service"],
    ["systemctl", "is-enabled", "linux-builder.service"],
  ]);
  const enabled = fakeIo({
    commands: {
      "systemctl is-active linux-builder.service": { kind: "failed", message: "inactive" },
      "systemctl is-enabled linux-builder.service": { kind: "ran", stdout: "enabled\n" },
    },
  });
  assert.deepEqual(await serviceCondition(service, enabled), { state: "stopped", enabled: true });
  assert.deepEqual(await serviceCondition(service, fakeIo({})), { state: "unknown" });
});

test("a builder's service: its name and file from the alias; whose the file there is, from the marker", () => {
  assert.deepEqual(
    builderService({ kind: "launchd", dir: "/Library/LaunchDaemons" }, "linux-builder-31023"),
    {
      manager: "launchd",
      name: "local.linux-builder-31023",
      file: "/Library/LaunchDaemons/local.linux-builder-31023.plist",
    },
  );
  assert.equal(definitionOwner({ exists: false }), "none");
  assert.equal(definitionOwner({ exists: true, content: `# ${SERVICE_MARKER}\n` }), "install");
  assert.equal(definitionOwner({ exists: true, content: "[Unit]\n" }), "other");
  // There, but not readable: not known to be ours, so it stays.
  assert.equal(definitionOwner({ exists: true }), "other");
});
