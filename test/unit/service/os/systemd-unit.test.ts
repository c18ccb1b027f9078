/**
 * The systemd unit: golden text, systemd's quoting (spaces, quotes, backslashes, % and $), and
 * `systemd-analyze verify` on a generated unit where systemd's tools are installed.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { SERVICE_MARKER } from "../../../../src/service/os/service-definition.js";
import { systemdUnit, systemdWord } from "../../../../src/service/os/systemd-unit.js";
import { LINUX_SERVICE, MAC_SERVICE } from "./definition-fixture.js";

const run = promisify(execFile);
const GOLDEN = join("test", "unit", "service", "os", "systemd-unit.expected.service");

test("the unit for a Linux user's second builder is exactly the golden file", async () => {
  const text = systemdUnit(LINUX_SERVICE);
  if (process.env.UPDATE_GOLDEN === "1") await writeFile(GOLDEN, text);
  assert.equal(text, await readFile(GOLDEN, "utf8"));
});

test("the unit starts with install's marker", () => {
  assert.ok(systemdUnit(MAC_SERVICE).startsWith(`# ${SERVICE_MARKER}\n`));
});

test("a word is bare when systemd reads nothing in it, else quoted; % and ExecStart's $ are doubled", () => {
  assert.equal(systemdWord("/usr/bin/node", "ExecStart"), "/usr/bin/node");
  assert.equal(systemdWord("--port", "ExecStart"), "--port");
  assert.equal(systemdWord("/a b", "ExecStart"), '"/a b"');
  assert.equal(systemdWord('say "hi"', "ExecStart"), '"say \\"hi\\""');
  assert.equal(systemdWord("back\\slash", "ExecStart"), '"back\\\\slash"');
  assert.equal(systemdWord("50%", "ExecStart"), '"50%%"');
  assert.equal(systemdWord("$HOME", "ExecStart"), '"$$HOME"');
  assert.equal(systemdWord("semi;colon", "ExecStart"), '"semi;colon"');
  assert.equal(systemdWord("it's", "ExecStart"), `"it's"`);
  // Environment= expands specifiers but not $NAME.
  assert.equal(systemdWord("X=$HOME 50%", "Environment"), '"X=$HOME 50%%"');
  assert.equal(systemdWord("PATH=/usr/bin:/bin", "Environment"), "PATH=/usr/bin:/bin");
});

test("User= and WorkingDirectory= take the rest of the line, specifiers doubled", () => {
  const text = systemdUnit({ ...LINUX_SERVICE, stateDir: "/srv/50% full/state" });
  // "-": a missing state folder is not fatal (no 200/CHDIR restart loop).
  assert.match(text, /^WorkingDirectory=-\/srv\/50%% full\/state$/m);
});

test("a control character is refused (a newline would end the setting's line)", () => {
  assert.throws(
    () => systemdUnit({ ...LINUX_SERVICE, stateDir: "/a\nExecStartPre=/bin/evil" }),
    /state folder holds a control character/,
  );
  assert.throws(() => systemdUnit({ ...LINUX_SERVICE, user: "bob\n" }), /user name/);
});

/** systemd-analyze, or why it cannot be used here. */
async function systemdAnalyze(): Promise<string | undefined> {
  return run("systemd-analyze", ["--version"]).then(
    () => undefined,
    () => "systemd-analyze is not installed (Debian's systemd package has it)",
  );
}

test("systemd-analyze verify accepts the generated unit, awkward paths and all", {
  skip: await systemdAnalyze(),
}, async () => {
  const root = await mkdtemp(join(tmpdir(), "lb unit "));
  try {
    // verify checks that ExecStart's program exists; the script is only an argument to it.
    const script = join(root, "odd 'dir'", "main.js");
    await mkdir(join(root, "odd 'dir'"));
    await writeFile(script, "");
    const unit = join(root, "linux-builder-31023.service");
    await writeFile(
      unit,
      systemdUnit({
        ...LINUX_SERVICE,
        user: userInfo().username,
        argv: [process.execPath, script, "serve", "--state-dir", join(root, 'st"ate\\ 50% $HOME')],
        environment: { ...LINUX_SERVICE.environment, ODD: `a"b\\c%d$e f` },
        stateDir: join(root, "state"),
      }),
    );
    const { stderr } = await run("systemd-analyze", ["verify", unit]);
    assert.doesNotMatch(stderr, /linux-builder-31023\.service/, stderr);
    // And it fails on a broken unit: the check can fail.
    const broken = join(root, "broken.service");
    await writeFile(
      broken,
      (await readFile(unit, "utf8")).replace(/^ExecStart=.*$/m, 'ExecStart=/usr/bin/node "unbalanced'),
    );
    await assert.rejects(run("systemd-analyze", ["verify", broken]));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
