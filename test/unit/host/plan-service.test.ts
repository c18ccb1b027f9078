/**
 * The OS service in install and uninstall plans, on both platforms through the fake host: the unit
 * or plist written, re-install unchanged (nothing to do), changed flags (rewritten and restarted),
 * --no-service, uninstall, no manager, a file not ours; every launchctl / systemctl argv exactly.
 * The file steps are applied for real in temporary folders (the commands are not: they are root's).
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { applyPlan } from "../../../src/host/apply-plan.js";
import type { HostKind } from "../../../src/host/host.js";
import { readHostState } from "../../../src/host/host-state.js";
import { type InstallRequest, planInstall, planUninstall } from "../../../src/host/install-plan.js";
import type { Plan } from "../../../src/host/plan.js";
import { describePlan } from "../../../src/host/plan-description.js";
import type { ServiceRequest } from "../../../src/host/plan-service.js";
import type { ToolResult } from "../../../src/host/tool.js";
import { launchdPlist } from "../../../src/service/os/launchd-plist.js";
import type { ServiceDefinition } from "../../../src/service/os/service-definition.js";
import { systemdUnit } from "../../../src/service/os/systemd-unit.js";
import { fakeIo } from "./platform/fake-io.js";

const scratch: string[] = [];
after(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

const SERVICE: ServiceDefinition = {
  alias: "linux-builder",
  user: "alice",
  argv: ["/usr/bin/node", "/opt/linux-builder/main.js", "serve", "--port", "31022"],
  environment: { HOME: "/home/alice", PATH: "/usr/bin:/bin" },
  stateDir: "/home/alice/.local/state/linux-builder",
  logFile: "/home/alice/.local/state/linux-builder/serve.log",
};

const request = (service?: ServiceRequest): InstallRequest => ({
  port: 31022,
  entry: {
    systems: ["x86_64-linux"],
    maxJobs: 2,
    speedFactor: 1,
    supportedFeatures: ["big-parallel"],
    hostPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJBWcxb root@linux-builder",
  },
  keys: {
    privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n",
    publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBuilderKey builder@linux-builder",
  },
  ...(service === undefined ? {} : { service }),
});
const install = (definition = SERVICE): ServiceRequest => ({ kind: "install", definition });

const SYSTEMD_UP: Record<string, ToolResult> = {
  "systemctl is-active linux-builder.service": { kind: "ran", stdout: "active\n" },
  "systemctl is-enabled linux-builder.service": { kind: "ran", stdout: "enabled\n" },
};

/** A host whose service manager is `manager`; its definitions in a temporary folder. */
async function makeHost(
  manager: "systemd" | "launchd" | "none",
  loaded = false,
  answers: Record<string, ToolResult> = {},
) {
  const root = await mkdtemp(join(tmpdir(), "lb-service-plan-"));
  scratch.push(root);
  const dirs = {
    nixConfDir: join(root, "nix"),
    sshConfigDir: join(root, "ssh_config.d"),
    serviceDir: join(root, "services"),
  };
  await mkdir(dirs.serviceDir);
  const kind: HostKind = manager === "launchd" ? "darwin" : "linux";
  const io = fakeIo({
    files: manager === "systemd" ? { "/run/systemd/system": "" } : {},
    commands: {
      ...(loaded
        ? { "launchctl print system/local.linux-builder": { kind: "ran", stdout: "state = running\n" } }
        : {}),
      ...answers,
    },
  });
  const state = () => readHostState({ kind }, dirs, 31022, io);
  const file = join(
    dirs.serviceDir,
    manager === "launchd" ? "local.linux-builder.plist" : "linux-builder.service",
  );
  return { dirs, state, file, io };
}

const commands = (plan: Plan) => plan.steps.flatMap((step) => (step.kind === "command" ? [step.argv] : []));
const paths = (plan: Plan) =>
  plan.steps.flatMap((step) => ("path" in step ? [`${step.kind} ${step.path}`] : []));

/** The plan's file changes, applied for real; its commands only listed (they are root's). */
async function applyFiles(plan: Plan): Promise<void> {
  await applyPlan(
    { kind: "linux", uid: process.getuid?.() ?? -1 },
    {
      steps: plan.steps.filter((step) => step.kind !== "command"),
      notes: [],
    },
  );
}

test("systemd: install writes the unit (0644) and enables it now; again unchanged, nothing to do", async () => {
  const host = await makeHost("systemd");
  const plan = planInstall(await host.state(), request(install()));
  const unit = plan.steps.find((step) => step.kind === "write" && step.path === host.file);
  assert.deepEqual(unit, {
    kind: "write",
    path: host.file,
    content: systemdUnit(SERVICE),
    mode: 0o644,
    exactMode: true,
  });
  assert.deepEqual(commands(plan), [
    ["systemctl", "daemon-reload"],
    ["systemctl", "enable", "--now", "linux-builder.service"],
  ]);
  assert.ok(describePlan(plan).includes("run: systemctl enable --now linux-builder.service"));
  await applyFiles(plan);
  assert.equal(await readFile(host.file, "utf8"), systemdUnit(SERVICE));
  assert.equal((await stat(host.file)).mode & 0o777, 0o644);
  assert.deepEqual(planInstall(await host.state(), request(install())).steps, []);
});

test("systemd: changed flags rewrite the unit and restart serve, and leave Nix's files (and daemon) alone", async () => {
  const host = await makeHost("systemd");
  await applyFiles(planInstall(await host.state(), request(install())));
  const changed = { ...SERVICE, argv: [...SERVICE.argv, "--max-jobs", "4"] };
  const plan = planInstall(await host.state(), request(install(changed)));
  assert.deepEqual(paths(plan), [`write ${host.file}`]);
  assert.equal(plan.steps[0]?.kind === "write" && plan.steps[0].before, systemdUnit(SERVICE));
  assert.deepEqual(commands(plan), [
    ["systemctl", "daemon-reload"],
    ["systemctl", "enable", "linux-builder.service"],
    ["systemctl", "restart", "linux-builder.service"],
  ]);
});

test("systemd: --no-service and uninstall stop and disable serve first, then remove the unit exactly", async () => {
  for (const undo of ["no-service", "uninstall"] as const) {
    const host = await makeHost("systemd", false, SYSTEMD_UP);
    const before = await readdir(host.dirs.serviceDir);
    await applyFiles(planInstall(await host.state(), request(install())));
    const state = await host.state();
    const plan =
      undo === "uninstall"
        ? planUninstall(state, 31022, request().keys.publicKey)
        : planInstall(state, request({ kind: "remove" }));
    // Stopped while its unit is still there to say how; applyPlan runs it before any file step.
    assert.deepEqual(plan.steps[0], {
      kind: "command",
      argv: ["systemctl", "disable", "--now", "linux-builder.service"],
      why: "stop serve (it powers the builder off) and disable it",
      beforeFiles: true,
      // Should a file step fail, serve is started again as it was: enabled and running.
      undo: ["systemctl", "enable", "--now", "linux-builder.service"],
      service: true,
    });
    assert.deepEqual(commands(plan), [
      ["systemctl", "disable", "--now", "linux-builder.service"],
      ["systemctl", "daemon-reload"],
    ]);
    assert.ok(paths(plan).includes(`remove ${host.file}`), undo);
    await applyFiles(plan);
    assert.deepEqual(await readdir(host.dirs.serviceDir), before, undo);
  }
});

test("--no-service on a host without the service, and run's install (no request), touch no service", async () => {
  const host = await makeHost("systemd");
  assert.deepEqual(commands(planInstall(await host.state(), request({ kind: "remove" }))), []);
  await applyFiles(planInstall(await host.state(), request(install())));
  assert.deepEqual(planInstall(await host.state(), request()).steps, []);
});

test("launchd: install bootstraps the daemon; a loaded one is booted out first (bootstrap of a loaded label fails)", async () => {
  const fresh = await makeHost("launchd");
  const plan = planInstall(await fresh.state(), request(install()));
  assert.ok(paths(plan).includes(`write ${fresh.file}`));
  assert.deepEqual(commands(plan), [["launchctl", "bootstrap", "system", fresh.file]]);
  await applyFiles(plan);
  assert.equal(await readFile(fresh.file, "utf8"), launchdPlist(SERVICE));
  assert.deepEqual(
    fresh.io.ran.filter(([command]) => command === "launchctl"),
    [["launchctl", "print", "system/local.linux-builder"]],
  );

  const loaded = await makeHost("launchd", true);
  await applyFiles(planInstall(await loaded.state(), request(install())));
  assert.deepEqual(planInstall(await loaded.state(), request(install())).steps, []);
  const changed = planInstall(
    await loaded.state(),
    request(install({ ...SERVICE, argv: [...SERVICE.argv, "--cpus", "2"] })),
  );
  assert.deepEqual(paths(changed), [`write ${loaded.file}`]);
  assert.deepEqual(commands(changed), [
    ["launchctl", "bootout", "system/local.linux-builder"],
    ["launchctl", "print", "system/local.linux-builder"],
    ["launchctl", "bootstrap", "system", loaded.file],
  ]);
  // bootout returns while serve still powers the VM off: bootstrap waits until launchd let go.
  assert.deepEqual(changed.steps[2], {
    kind: "command",
    argv: ["launchctl", "print", "system/local.linux-builder"],
    why: "wait until launchd has let go of serve's label",
    service: true,
    untilFailsWithinSeconds: 120,
  });
  assert.match(describePlan(changed), /wait until `launchctl print system\/local.linux-builder` fails/);
});

test("launchd: uninstall boots the daemon out first when loaded, then removes its plist", async () => {
  for (const loaded of [true, false]) {
    const host = await makeHost("launchd", loaded);
    await applyFiles(planInstall(await host.state(), request(install())));
    const plan = planUninstall(await host.state(), 31022, request().keys.publicKey);
    const bootout = ["launchctl", "bootout", "system/local.linux-builder"];
    const wait = ["launchctl", "print", "system/local.linux-builder"];
    assert.deepEqual(
      commands(plan).filter(([command]) => command === "launchctl"),
      loaded ? [bootout, wait] : [],
    );
    if (loaded) assert.deepEqual(plan.steps[0]?.kind === "command" && plan.steps[0].argv, bootout);
    assert.ok(paths(plan).includes(`remove ${host.file}`));
    await applyFiles(plan);
    assert.deepEqual(await readdir(host.dirs.serviceDir), []);
  }
});

test("no service manager (a container): no service files, and the notes say how to run serve instead", async () => {
  const host = await makeHost("none");
  const plan = planInstall(await host.state(), request(install()));
  assert.deepEqual(
    paths(plan).filter((path) => path.includes("services")),
    [],
  );
  assert.ok(
    plan.notes.includes(
      "No service was set up (systemd does not run here: no /run/systemd/system): run `linux-builder serve --port 31022` in the background (it boots the builder when a build needs it); without it, `linux-builder start` is needed before builds.",
    ),
    plan.notes.join("\n"),
  );
  assert.deepEqual(
    commands(plan).filter(([command]) => command === "systemctl"),
    [],
  );
});

test("a unit at our path that install did not write stays, with a note, on install and uninstall", async () => {
  const host = await makeHost("systemd");
  await writeFile(host.file, "[Service]\nExecStart=/usr/local/bin/their-own\n");
  const plan = planInstall(await host.state(), request(install()));
  assert.deepEqual(
    paths(plan).filter((path) => path.endsWith(host.file)),
    [],
  );
  assert.deepEqual(
    commands(plan).filter(([, verb]) => verb !== "restart"),
    [],
  );
  assert.ok(plan.notes.some((note) => note.includes(`${host.file} was not written by install: it stays`)));
  const uninstall = planUninstall(await host.state(), 31022, request().keys.publicKey);
  assert.deepEqual(commands(uninstall), []);
  assert.ok(uninstall.notes.includes(`${host.file} was not written by install: it stays.`));
});

test("applyPlan runs beforeFiles commands before any file step, the others after them all", async () => {
  const root = await mkdtemp(join(tmpdir(), "lb-apply-order-"));
  scratch.push(root);
  const file = join(root, "unit");
  const log = join(root, "log");
  const plan: Plan = {
    steps: [
      { kind: "write", path: file, content: "x\n", mode: 0o644 },
      { kind: "command", argv: ["sh", "-c", `test -e ${file} && echo after >> ${log}`], why: "after" },
      {
        kind: "command",
        argv: ["sh", "-c", `test ! -e ${file} && echo before >> ${log}`],
        why: "before",
        beforeFiles: true,
      },
    ],
    notes: [],
  };
  const report = await applyPlan({ kind: "linux", uid: process.getuid?.() ?? -1 }, plan);
  assert.deepEqual(report, { failedCommands: [] });
  assert.equal(await readFile(log, "utf8"), "before\nafter\n");
});

test("an unchanged definition whose service is not running is started again: install run again repairs it", async () => {
  const cases: { manager: "systemd" | "launchd"; answers: Record<string, ToolResult>; expect: string[][] }[] =
    [
      { manager: "systemd", answers: SYSTEMD_UP, expect: [] },
      {
        manager: "systemd",
        answers: {
          ...SYSTEMD_UP,
          "systemctl is-enabled linux-builder.service": { kind: "failed", message: "disabled" },
        },
        expect: [["systemctl", "enable", "--now", "linux-builder.service"]],
      },
      {
        manager: "systemd",
        answers: {
          ...SYSTEMD_UP,
          "systemctl is-active linux-builder.service": { kind: "failed", message: "failed" },
        },
        expect: [["systemctl", "enable", "--now", "linux-builder.service"]],
      },
      {
        manager: "launchd",
        answers: {
          "launchctl print system/local.linux-builder": { kind: "ran", stdout: "state = running\n" },
        },
        expect: [],
      },
      {
        manager: "launchd",
        answers: {
          "launchctl print system/local.linux-builder": { kind: "failed", message: "Could not find service" },
        },
        expect: [["launchctl", "bootstrap", "system", "PLIST"]],
      },
      {
        manager: "launchd",
        answers: {
          "launchctl print system/local.linux-builder": { kind: "ran", stdout: "state = not running\n" },
        },
        expect: [["launchctl", "kickstart", "system/local.linux-builder"]],
      },
    ];
  for (const { manager, answers, expect } of cases) {
    const host = await makeHost(manager, false, answers);
    await applyFiles(planInstall(await host.state(), request(install())));
    const plan = planInstall(await host.state(), request(install()));
    assert.deepEqual(paths(plan), [], "the definition is not written again");
    const expected = expect.map((argv) => argv.map((word) => (word === "PLIST" ? host.file : word)));
    assert.deepEqual(commands(plan), expected, JSON.stringify(answers));
  }
});

/** The fake host, with `launchctl print` answering from `prints` in turn (then failing: the label is gone). */
function launchdGoingAway(prints: number) {
  const io = fakeIo({});
  let printed = 0;
  const pauses: number[] = [];
  return {
    ran: io.ran,
    pauses,
    pause: async (ms: number) => {
      pauses.push(ms);
    },
    io: {
      ...io,
      async run(command: string, args: readonly string[]): Promise<ToolResult> {
        await io.run(command, args);
        if (args[0] !== "print") return { kind: "ran", stdout: "" };
        printed++;
        return printed <= prints
          ? { kind: "ran", stdout: "state = SIGTERMed\n" }
          : { kind: "failed", message: "Could not find service" };
      },
    },
  };
}

test("applyPlan runs bootstrap only once launchd has let go of the label booted out, within a bound", async () => {
  const host = await makeHost("launchd", true);
  await applyFiles(planInstall(await host.state(), request(install())));
  const plan = planInstall(
    await host.state(),
    request(install({ ...SERVICE, argv: [...SERVICE.argv, "--cpus", "2"] })),
  );
  const APPLYING = { kind: "linux", uid: process.getuid?.() ?? -1 } as const;
  const slow = launchdGoingAway(3);
  assert.deepEqual(await applyPlan(APPLYING, plan, undefined, slow.io, slow.pause), { failedCommands: [] });
  const print = ["launchctl", "print", "system/local.linux-builder"];
  assert.deepEqual(slow.ran, [
    ["launchctl", "bootout", "system/local.linux-builder"],
    print,
    print,
    print,
    print,
    ["launchctl", "bootstrap", "system", host.file],
  ]);
  assert.deepEqual(slow.pauses, [1000, 1000, 1000]);

  // Never let go: the wait gives up after its bound and says so; bootstrap is still tried (and reported).
  const stuck = launchdGoingAway(Number.POSITIVE_INFINITY);
  const onlyCommands = { steps: plan.steps.filter((step) => step.kind === "command"), notes: [] };
  const report = await applyPlan(APPLYING, onlyCommands, undefined, stuck.io, stuck.pause);
  assert.equal(stuck.pauses.length, 120);
  assert.deepEqual(report.failedCommands, [
    { argv: print, message: "still succeeds after 120 s (wait until launchd has let go of serve's label)" },
  ]);
  assert.deepEqual(stuck.ran.at(-1), ["launchctl", "bootstrap", "system", host.file]);
});

test("a file step failing after serve was stopped puts the files back, then starts serve again", async () => {
  for (const manager of ["systemd", "launchd"] as const) {
    const host = await makeHost(manager, manager === "launchd", manager === "systemd" ? SYSTEMD_UP : {});
    await applyFiles(planInstall(await host.state(), request(install())));
    const plan = planUninstall(await host.state(), 31022, request().keys.publicKey);
    // Changed after the plan was made: its removal refuses, and everything is put back.
    await writeFile(host.file, `${await readFile(host.file, "utf8")}# edited meanwhile\n`);
    const ran: ToolResult = { kind: "ran", stdout: "" };
    const io =
      manager === "launchd"
        ? launchdGoingAway(0).io
        : fakeIo({
            commands: {
              "systemctl disable --now linux-builder.service": ran,
              "systemctl enable --now linux-builder.service": ran,
            },
          });
    await assert.rejects(
      applyPlan({ kind: "linux", uid: process.getuid?.() ?? -1 }, plan, undefined, io, async () => undefined),
      /changed since linux-builder looked at it; nothing was changed/,
    );
    assert.deepEqual(
      io.ran,
      manager === "systemd"
        ? [
            ["systemctl", "disable", "--now", "linux-builder.service"],
            ["systemctl", "enable", "--now", "linux-builder.service"],
          ]
        : [
            ["launchctl", "bootout", "system/local.linux-builder"],
            ["launchctl", "print", "system/local.linux-builder"],
            ["launchctl", "bootstrap", "system", host.file],
          ],
      manager,
    );
    assert.match(await readFile(host.file, "utf8"), /# edited meanwhile\n$/);
  }
});

test("a stopped service is put back only as it was: enabled, running, both or neither", async () => {
  const down: Record<string, ToolResult> = {
    "systemctl is-active linux-builder.service": { kind: "failed", message: "inactive" },
    "systemctl is-enabled linux-builder.service": { kind: "failed", message: "disabled" },
  };
  const host = await makeHost("systemd", false, down);
  await applyFiles(planInstall(await host.state(), request(install())));
  const [stop] = planUninstall(await host.state(), 31022, request().keys.publicKey).steps;
  assert.deepEqual(stop?.kind === "command" && stop.argv, [
    "systemctl",
    "disable",
    "--now",
    "linux-builder.service",
  ]);
  assert.equal(stop?.kind === "command" && stop.undo, undefined);
});
