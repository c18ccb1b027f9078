/**
 * Exact reversal, property-style: generated starting hosts (a missing /etc/nix; nix.conf and machines
 * absent, empty, with CRLF, without a final newline, with other builders; Determinate's layout; a
 * key or ssh alias of someone else's where ours go) and generated sequences of installs (new
 * settings, another port, a second builder) with the user editing files in between, then one
 * uninstall per builder. Afterwards every file and folder is as it was before the first install
 * plus the user's own edits: bytes, mode, absence, and no backup left behind.
 */
import assert from "node:assert/strict";
import { appendFile, lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import fc from "fast-check";
import { applyPlan } from "../../../src/host/apply-plan.js";
import { currentHost } from "../../../src/host/host.js";
import { readHostState } from "../../../src/host/host-state.js";
import { type InstallRequest, planInstall, planUninstall } from "../../../src/host/install-plan.js";

/** The files are this user's, in temporary folders; the host is the one the tests run on. */
const HOST = currentHost();

const scratch: string[] = [];
after(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

/** Two builders (two state folders, two keys), each with the ports it may move between. */
const BUILDERS = [
  {
    ports: [31022, 31023],
    publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBuilderZero builder@linux-builder",
  },
  {
    ports: [31024, 31025],
    publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBuilderOne builder@linux-builder",
  },
] as const;
const HOST_KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJBWcxb/Blaqt1auOtE+F8QUWrUotiC5qBJ+UuEWdVCb root@linux-builder";

function request(builder: 0 | 1, port: number, maxJobs: number, features: string[]): InstallRequest {
  return {
    port,
    entry: {
      systems: ["x86_64-linux"],
      maxJobs,
      speedFactor: 1,
      supportedFeatures: features,
      hostPublicKey: HOST_KEY,
    },
    keys: {
      privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\nbuilder ${builder}\n-----END OPENSSH PRIVATE KEY-----\n`,
      publicKey: BUILDERS[builder].publicKey,
    },
  };
}

const userLine = fc.constantFrom(
  "trusted-users = root alice",
  "# a comment of the user's",
  "max-jobs = 8",
  "!include /etc/nix/extra.conf",
  "",
  "builders-use-substitutes = false",
);
const machinesLine = fc.constantFrom(
  "ssh://mac-mini aarch64-darwin /etc/nix/key 4 1",
  "ssh-ng://builder@big x86_64-linux /etc/nix/big_key 16 2 kvm,big-parallel - -",
  "# the office builders",
);

/** A file's text as users write them: LF or CRLF, with or without a final newline. */
const textOf = (lines: fc.Arbitrary<string>) =>
  fc
    .record({
      lines: fc.array(lines, { maxLength: 4 }),
      crlf: fc.boolean(),
      finalNewline: fc.boolean(),
    })
    .map(({ lines: body, crlf, finalNewline }) => {
      const eol = crlf ? "\r\n" : "\n";
      return body.join(eol) + (finalNewline && body.length > 0 ? eol : "");
    });

const maybe = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined });

/** A host before the first install. */
const startingHost = fc.record({
  nixConfDir: fc.boolean(),
  nixConf: maybe(textOf(userLine)),
  determinate: fc.boolean(),
  customConf: maybe(textOf(userLine)),
  machines: maybe(textOf(machinesLine)),
  /** darwin.builder's key where the default builder's goes. */
  othersKey: fc.boolean(),
  /** A file of the user's named like our ssh alias. */
  othersSshConfig: fc.boolean(),
  sshConfigDir: fc.boolean(),
});
type StartingHost = typeof startingHost extends fc.Arbitrary<infer T> ? T : never;

const action = fc.oneof(
  fc.record({
    kind: fc.constant("install" as const),
    builder: fc.constantFrom(0 as const, 1 as const),
    portIndex: fc.constantFrom(0, 1),
    maxJobs: fc.integer({ min: 1, max: 4 }),
    features: fc.subarray(["benchmark", "big-parallel", "kvm"]),
  }),
  fc.record({
    kind: fc.constant("edit" as const),
    file: fc.constantFrom("nix.conf", "machines", "nix.custom.conf"),
    line: fc.constantFrom("max-jobs = 3", "# edited by hand", "ssh://added-later x86_64-linux - 1"),
  }),
);

/** Every file and folder under `root`: bytes and mode ("folder" for folders). */
async function snapshot(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of await readdir(root, { recursive: true })) {
    const path = join(root, name);
    const info = await lstat(path);
    const mode = (info.mode & 0o7777).toString(8);
    out[name] = info.isDirectory()
      ? `folder ${mode}`
      : `${mode} ${JSON.stringify(await readFile(path, "utf8"))}`;
  }
  return out;
}

/** What a user's edit does: a line appended, after a newline if the file lacks its last one. */
async function appendLine(path: string, line: string): Promise<void> {
  const text = await readFile(path, "utf8").catch(() => undefined);
  if (text === undefined) {
    await writeFile(path, `${line}\n`, { mode: 0o644 });
    return;
  }
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  await writeFile(path, `${text}${text === "" || text.endsWith("\n") ? "" : eol}${line}${eol}`);
}

async function makeHost(start: StartingHost) {
  const root = await mkdtemp(join(tmpdir(), "lb-sequences-"));
  scratch.push(root);
  const dirs = {
    nixConfDir: join(root, "nix"),
    sshConfigDir: join(root, "ssh_config.d"),
    serviceDir: join(root, "services"),
  };
  if (start.nixConfDir) {
    await mkdir(dirs.nixConfDir);
    const nixConf = start.determinate
      ? `# Generated by Determinate Nix.\n!include nix.custom.conf\n${start.nixConf ?? ""}`
      : start.nixConf;
    if (nixConf !== undefined) await writeFile(join(dirs.nixConfDir, "nix.conf"), nixConf, { mode: 0o644 });
    if (start.determinate && start.customConf !== undefined) {
      await writeFile(join(dirs.nixConfDir, "nix.custom.conf"), start.customConf, { mode: 0o644 });
    }
    if (start.machines !== undefined)
      await writeFile(join(dirs.nixConfDir, "machines"), start.machines, { mode: 0o644 });
    if (start.othersKey) {
      await writeFile(join(dirs.nixConfDir, "builder_ed25519"), "darwin.builder's key\n", { mode: 0o600 });
      await writeFile(join(dirs.nixConfDir, "builder_ed25519.pub"), "ssh-ed25519 AAAAdarwin builder\n", {
        mode: 0o644,
      });
    }
  }
  if (start.sshConfigDir || start.othersSshConfig) {
    await mkdir(dirs.sshConfigDir);
    if (start.othersSshConfig) {
      await writeFile(join(dirs.sshConfigDir, "linux-builder.conf"), "Host linux-builder\n  User me\n", {
        mode: 0o640,
      });
    }
  }
  return { root, dirs };
}

test("every sequence of installs, edits and one uninstall per builder leaves the host as it was, plus the user's edits", async () => {
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(
      startingHost,
      fc.array(action, { minLength: 1, maxLength: 6 }),
      async (start, actions) => {
        runs++;
        const { root, dirs } = await makeHost(start);
        // The same host without linux-builder: only the user's edits happen to it.
        const { root: expectedRoot, dirs: expectedDirs } = await makeHost(start);
        const lastPort: (number | undefined)[] = [undefined, undefined];
        for (const step of actions) {
          if (step.kind === "install") {
            const port = BUILDERS[step.builder].ports[step.portIndex] ?? 31022;
            const state = await readHostState(HOST, dirs, port);
            await applyPlan(
              HOST,
              planInstall(state, request(step.builder, port, step.maxJobs, step.features)),
            );
            lastPort[step.builder] = port;
          } else {
            // The user edits only files that exist, in a folder that exists (as a person would).
            const path = join(dirs.nixConfDir, step.file);
            const exists = await lstat(path).then(
              () => true,
              () => false,
            );
            if (!exists) continue;
            await appendLine(path, step.line);
            await mkdir(expectedDirs.nixConfDir, { recursive: true });
            await appendLine(join(expectedDirs.nixConfDir, step.file), step.line);
          }
        }
        for (const builder of [0, 1] as const) {
          const port = lastPort[builder];
          if (port === undefined) continue;
          await applyPlan(
            HOST,
            planUninstall(await readHostState(HOST, dirs, port), port, BUILDERS[builder].publicKey),
          );
        }
        const result = await snapshot(root);
        assert.deepEqual(result, await snapshot(expectedRoot));
        // LINUX_BUILDER_SEQUENCE_LOG=FILE: every host and sequence tried, and what it left, one JSON a line.
        if (process.env.LINUX_BUILDER_SEQUENCE_LOG) {
          await appendFile(
            process.env.LINUX_BUILDER_SEQUENCE_LOG,
            `${JSON.stringify({ start, actions, result })}\n`,
          );
        }
      },
    ),
    { numRuns: 150 },
  );
  assert.equal(runs, 150);
});
