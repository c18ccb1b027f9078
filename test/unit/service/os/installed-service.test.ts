/** Which service install set up for a builder, and what its manager says of it: exact argv through the fake host. */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  installedService,
  launchdLoaded,
  serviceManagerState,
} from "../../../../src/service/os/installed-service.js";
import { SERVICE_MARKER } from "../../../../src/service/os/service-definition.js";
import { fakeIo } from "../../host/platform/fake-io.js";

const scratch: string[] = [];
after(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

async function serviceDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "lb-service-"));
  scratch.push(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

test("the unit install wrote for a builder is found by its port's name; a unit not ours is not", async () => {
  const dir = await serviceDir({
    "linux-builder.service": `# ${SERVICE_MARKER}\n[Unit]\n`,
    "linux-builder-31023.service": "[Unit]\nDescription=the administrator's own\n",
  });
  const systemd = fakeIo({ files: { "/run/systemd/system": "" } });
  assert.deepEqual(await installedService({ kind: "linux" }, 31022, systemd, dir), {
    manager: "systemd",
    name: "linux-builder.service",
    file: join(dir, "linux-builder.service"),
  });
  assert.equal(await installedService({ kind: "linux" }, 31023, systemd, dir), undefined);
  assert.equal(await installedService({ kind: "linux" }, 31024, systemd, dir), undefined);
  // No systemd running (a container): no service, whatever files there are.
  assert.equal(await installedService({ kind: "linux" }, 31022, fakeIo({}), dir), undefined);
});

test("the launch daemon install wrote is found by its label", async () => {
  const dir = await serviceDir({ "local.linux-builder-31023.plist": `<!-- ${SERVICE_MARKER} -->\n` });
  assert.deepEqual(await installedService({ kind: "darwin" }, 31023, fakeIo({}), dir), {
    manager: "launchd",
    name: "local.linux-builder-31023",
    file: join(dir, "local.linux-builder-31023.plist"),
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
  assert.equal(await launchdLoaded("local.linux-builder", unloaded), false);
  assert.equal(await launchdLoaded("local.linux-builder", running), true);
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
