import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { COMMAND_MODULES, commandModulesFor, loadCommands } from "../../../src/cli/command-modules.js";
import { buildProgram, main } from "../../../src/cli/main.js";
import type { Host } from "../../../src/host/host.js";
import { runCli } from "../../support/cli-process.js";

const run = promisify(execFile);

describe("the CLI's errors are clear and carry no stack trace", () => {
  let home: string;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), "lb-cli-"));
    // A well-formed lock (its packages do not exist: only what happens before any download is tested).
    await writeFile(
      join(home, "lock.json"),
      JSON.stringify({
        lockVersion: 1,
        suite: "trixie",
        arch: "amd64",
        roots: [],
        kernel: {
          name: "linux-image-x",
          version: "1",
          architecture: "amd64",
          filename: "pool/main/l/x.deb",
          size: 1,
          sha256: "a".repeat(64),
        },
        packages: [
          {
            name: "bash",
            version: "1",
            architecture: "amd64",
            filename: "pool/main/b/b.deb",
            size: 1,
            sha256: "b".repeat(64),
          },
        ],
      }),
    );
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });

  const cli = (...args: string[]) => runCli(home, ...args);

  test("an unknown --arch names the flag and the choices", async () => {
    const { code, stderr } = await cli("image", "build", "--arch", "sparc");
    assert.equal(code, 1);
    assert.match(stderr, /Unknown architecture "sparc" for --arch\n {2}Use amd64 \(x86_64-linux\) or arm64/);
    assert.doesNotMatch(stderr, /at .*\.ts:\d+/);
  });

  test("a bad mirror URL is refused before any network use", async () => {
    const { code, stderr } = await cli("image", "build", "--mirror", "ftp://example.org/debian");
    assert.equal(code, 1);
    assert.match(stderr, /--mirror must be http:\/\/ or https:\/\//);
  });

  test("a damaged lock file names the file and the field", async () => {
    const lock = join(home, "bad-lock.json");
    await writeFile(
      lock,
      JSON.stringify({ lockVersion: 1, suite: "trixie", arch: "amd64", roots: [], kernel: {}, packages: [] }),
    );
    const { code, stderr } = await cli("image", "build", "--lock", lock);
    assert.equal(code, 1);
    assert.match(stderr, new RegExp(`Cannot use the lock file ${lock}: field kernel\\.name`));
    const missing = await cli("image", "build", "--lock", join(home, "nope.json"));
    assert.match(missing.stderr, /Cannot read the lock file .*nope\.json: ENOENT/);
  });

  test("asking about an image that does not exist says how to make one; --json errors are JSON", async () => {
    const { code, stderr } = await cli("image", "info", "--arch", "arm64");
    assert.equal(code, 1);
    assert.match(
      stderr,
      /There is no arm64 image yet .*\n {2}Compose one with: linux-builder image build --arch arm64/,
    );
    const json = await cli("image", "info", "--arch", "arm64", "--json");
    assert.equal(JSON.parse(json.stdout).error.code, "image.none");
  });

  test("--lock cannot be combined with flags that change the package set", async () => {
    const lockFile = join(home, "lock.json");
    const extra = await cli("image", "build", "--lock", lockFile, "--extra-packages", "vim");
    assert.equal(extra.code, 1);
    assert.match(extra.stderr, /--extra-packages cannot be combined with --lock/);
    const suite = await cli("image", "build", "--lock", lockFile, "--suite", "bookworm");
    assert.match(suite.stderr, /--suite bookworm contradicts the lock, made for trixie/);
  });

  test("an unwritable home is the user's problem, named, not a crash", async () => {
    const blocker = join(home, "not-a-folder");
    await writeFile(blocker, "");
    const env = { ...process.env, LINUX_BUILDER_HOME: join(blocker, "home") };
    // Composing from a lock needs no network: it starts by writing the package cache, under the file.
    const result = await run(
      "node",
      ["bin/linux-builder.js", "image", "build", "--lock", join(home, "lock.json")],
      {
        env,
      },
    ).catch((e) => e);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /Cannot \w+ .*not-a-folder.*: a part of the path is not a folder \(ENOTDIR\)/,
    );
    assert.doesNotMatch(result.stderr, /internal error/);
  });

  test("a damaged manifest names the file and what is wrong", async () => {
    const dir = join(home, "images", "trixie-amd64-0123456789abcdef");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "manifest.json"), "{ not json");
    const { code, stderr } = await cli("image", "info", "trixie-amd64-0123456789abcdef");
    assert.equal(code, 1);
    assert.match(stderr, /The image trixie-amd64-0123456789abcdef is damaged: .*manifest\.json is not JSON/);
    await rm(dir, { recursive: true });
  });

  test("an unknown command is a usage error (exit 2)", async () => {
    const { code, stderr } = await cli("frobnicate");
    assert.equal(code, 2);
    assert.match(stderr, /unknown command 'frobnicate'/);
  });

  test("image list on an empty home says how to compose", async () => {
    const { code, stderr } = await cli("image", "list");
    assert.equal(code, 0);
    assert.match(stderr, /No images in .* Compose one with: linux-builder image build/);
  });
});

describe("every command", () => {
  const host: Host = {
    kind: "linux",
    os: "linux",
    arch: "amd64",
    cpuName: "x64",
    uid: 1000,
    user: "u",
    env: {},
    cpus: 2,
    memoryMiB: 4096,
    home: "/home/u",
    cwd: "/",
  };
  const context = {
    host,
    paths: { cache: "/c", images: "/i", state: "/s", config: "/c.json" },
    self: { node: "node", script: "linux-builder" },
  };

  test("registers, its flags where commander puts them, and is listed in --help unless hidden", async () => {
    const commands = await loadCommands();
    const program = buildProgram(context, () => undefined, commands);
    const help = program.helpInformation();
    for (const command of commands) {
      const top = command.path[0];
      assert.equal(new RegExp(`^  ${top}\\b`, "m").test(help), command.hidden !== true, top);
    }
  });

  test("is in the README's command lists", async () => {
    const readme = await readFile(new URL("../../../README.md", import.meta.url), "utf8");
    for (const command of (await loadCommands()).filter((c) => c.hidden !== true)) {
      assert.match(
        readme,
        new RegExp(`^linux-builder ${command.path.join(" ")}\\b`, "m"),
        command.path.join(" "),
      );
    }
  });

  test("is in the table of modules under its own words, in its own module", async () => {
    const commands = await loadCommands();
    assert.deepEqual(
      commands.map((command) => command.path.join(" ")),
      COMMAND_MODULES.map((module) => module.path.join(" ")),
    );
  });

  test("a command line loads the one command it names, or all when it names none", () => {
    const words = (argv: string[]) => commandModulesFor(argv).map((module) => module.path.join(" "));
    assert.deepEqual(words(["stop", "--timeout", "5"]), ["stop"]);
    assert.deepEqual(words(["image", "build", "--force"]), ["image build"]);
    assert.deepEqual(words(["cache", "prune", "--help"]), ["cache prune"]);
    for (const none of [[], ["--help"], ["--version"], ["image"], ["stpo"], ["help", "stop"]]) {
      assert.equal(commandModulesFor(none).length, COMMAND_MODULES.length, none.join(" "));
    }
  });

  test("returns its exit status through main: a usage error is 2, --help 0", async () => {
    assert.equal(await main(["frobnicate"], host), 2);
    assert.equal(await main(["image", "prune", "--help"], host), 0);
  });
});
