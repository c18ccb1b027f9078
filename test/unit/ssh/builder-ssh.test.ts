import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { sshArgs, sshPathValue } from "../../../src/ssh/builder-ssh.js";
import { stateLayout } from "../../../src/vm/state.js";

/** What ssh itself makes of the arguments (`ssh -G` prints its configuration and connects nowhere). */
function sshConfig(args: readonly string[]): Map<string, string> {
  const output = execFileSync("ssh", ["-G", ...args], { encoding: "utf8" });
  return new Map(
    output
      .split("\n")
      .filter((line) => line.includes(" "))
      .map((line) => [line.slice(0, line.indexOf(" ")), line.slice(line.indexOf(" ") + 1)]),
  );
}

test("ssh takes the state folder's paths whole: spaces (macOS's Application Support) and %", () => {
  const dir = "/Users/me/Library/Application Support/linux-builder/state 100%";
  const config = sshConfig(sshArgs(stateLayout(dir), 31022, { reuse: true }));
  assert.equal(config.get("controlpath"), `${dir}/ssh.sock`);
  assert.equal(config.get("userknownhostsfile"), `${dir}/known_hosts`);
  assert.equal(config.get("controlmaster"), "auto");
  assert.equal(config.get("streamlocalbindunlink"), "yes");
  assert.equal(config.get("port"), "31022");
  assert.equal(config.get("user"), "builder");
  assert.equal(config.get("hostname"), "127.0.0.1");
  assert.equal(config.get("stricthostkeychecking"), "true");
});

test("a path ssh cannot be given is refused with the reason", () => {
  assert.equal(sshPathValue("/a b/%h"), '"/a b/%%h"');
  assert.throws(() => sshPathValue('/home/"me"/state'), /ssh cannot be given a path with a double quote/);
});
