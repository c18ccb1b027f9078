/**
 * The launch daemon's plist: golden text for a macOS user (paths with spaces), XML escaping, and
 * control characters refused. plutil -lint is macOS's validator: it does not exist on Linux CI.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { LinuxBuilderError } from "../../../../src/errors.js";
import { launchdPlist, xmlText } from "../../../../src/service/os/launchd-plist.js";
import { SERVICE_MARKER } from "../../../../src/service/os/service-definition.js";
import { LINUX_SERVICE, MAC_SERVICE } from "./definition-fixture.js";

const GOLDEN = join("test", "unit", "service", "os", "launchd-plist.expected.plist");

test("the plist for a macOS user's builder is exactly the golden file", async () => {
  const text = launchdPlist(MAC_SERVICE);
  if (process.env.UPDATE_GOLDEN === "1") await writeFile(GOLDEN, text);
  assert.equal(text, await readFile(GOLDEN, "utf8"));
});

test("no WorkingDirectory: launchd would fail to spawn serve, again and again, in a deleted state folder", () => {
  assert.doesNotMatch(launchdPlist(MAC_SERVICE), /WorkingDirectory/);
});

test("the plist carries install's marker, and another builder's label is its own", () => {
  assert.ok(launchdPlist(MAC_SERVICE).includes(`<!-- ${SERVICE_MARKER} -->`));
  // An XML comment may not hold "--".
  assert.doesNotMatch(SERVICE_MARKER, /--/);
  assert.match(
    launchdPlist(LINUX_SERVICE),
    /<key>Label<\/key>\n\t<string>local\.linux-builder-31023<\/string>/,
  );
});

test("XML's special characters are escaped in every value; quotes and $ need nothing", () => {
  assert.equal(xmlText(`a&b <c> "d" 'e' $HOME 50%`), `a&amp;b &lt;c&gt; "d" 'e' $HOME 50%`);
  const text = launchdPlist({ ...MAC_SERVICE, logFile: "/Users/a&b/<state>/serve.log", user: "a&b" });
  assert.match(text, /<string>\/Users\/a&amp;b\/&lt;state&gt;\/serve.log<\/string>/);
  assert.match(text, /<key>UserName<\/key>\n\t<string>a&amp;b<\/string>/);
});

test("a control character in any value is refused, naming where it is", () => {
  const newline = { ...MAC_SERVICE, environment: { ...MAC_SERVICE.environment, PATH: "/bin\n/usr/bin" } };
  assert.throws(
    () => launchdPlist(newline),
    (error: unknown) =>
      error instanceof LinuxBuilderError &&
      error.code === "install.service" &&
      /PATH holds a control/.test(error.message),
  );
  const argv = { ...MAC_SERVICE, argv: [...MAC_SERVICE.argv, "a\u0007b"] };
  assert.throws(() => launchdPlist(argv), /word 8 of serve's command line/);
});

/** Python's plistlib, which reads XML plists as macOS does, or why it cannot be used here. */
const python = await promisify(execFile)("python3", ["-c", "import plistlib"]).then(
  () => undefined,
  () => "python3 is not installed (its plistlib reads the plist back)",
);

test("the plist reads back (Python's plistlib) as exactly the values given, awkward characters and all", {
  skip: python,
}, async () => {
  const awkward = {
    ...MAC_SERVICE,
    argv: [...MAC_SERVICE.argv, `a&b <c> "d" 'e' $HOME 50% \\ é`],
    environment: { ...MAC_SERVICE.environment, LINUX_BUILDER_HOME: "/Users/alice/x&y]]>z" },
  };
  const script = "import json, plistlib, sys; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))";
  const child = execFile("python3", ["-c", script]);
  child.stdin?.end(launchdPlist(awkward));
  let stdout = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
  });
  await new Promise((resolve, reject) =>
    child.on("exit", (code) => (code === 0 ? resolve(code) : reject(new Error(`python3 exited ${code}`)))),
  );
  assert.deepEqual(JSON.parse(stdout), {
    Label: "local.linux-builder",
    UserName: "alice",
    ProgramArguments: awkward.argv,
    EnvironmentVariables: awkward.environment,
    RunAtLoad: true,
    KeepAlive: true,
    ProcessType: "Interactive",
    ExitTimeOut: 90,
    StandardOutPath: awkward.logFile,
    StandardErrorPath: awkward.logFile,
  });
});
