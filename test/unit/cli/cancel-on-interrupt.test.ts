import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";

/** A process that listens, then sends itself Ctrl-C (SIGINT) `times` times; what it printed, how it ended. */
function interrupted(endsProcess: boolean, times: number, removeFirst = false) {
  const script = `
    import { cancelOnInterrupt } from "./src/cli/cancel-on-interrupt.ts";
    const cancel = new AbortController();
    cancel.signal.addEventListener("abort", () => console.log("aborted"));
    const stop = cancelOnInterrupt(cancel, () => ${endsProcess});
    ${removeFirst ? "stop();" : ""}
    for (let i = 0; i < ${times}; i++) { process.kill(process.pid, "SIGINT"); await new Promise((r) => setTimeout(r, 100)); }
    console.log("still running");
  `;
  const result = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    encoding: "utf8",
  });
  return { out: result.stdout.trim().split("\n").filter(Boolean), signal: result.signal };
}

test("Ctrl-C while preparing: the probe's signal is aborted first, then the process ends as Ctrl-C ends it", () => {
  assert.deepEqual(interrupted(true, 1), { out: ["aborted"], signal: "SIGINT" });
});

test("a command that handles it (a start that boots) is cancelled and goes on; a second Ctrl-C ends it", () => {
  assert.deepEqual(interrupted(false, 1), { out: ["aborted", "still running"], signal: null });
  assert.deepEqual(interrupted(false, 2), { out: ["aborted"], signal: "SIGINT" });
});

test("once removed (QEMU has the terminal), Ctrl-C is no longer ours: nothing is aborted", () => {
  assert.deepEqual(interrupted(true, 1, true), { out: [], signal: "SIGINT" });
});
