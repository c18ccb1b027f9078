import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Command } from "commander";
import {
  addFlags,
  choiceFlag,
  defaultedFlag,
  listFlag,
  negatedSwitch,
  readFlags,
  switchFlag,
  valueFlag,
  wholeNumber,
} from "../../../src/cli/flags.js";
import { LinuxBuilderError } from "../../../src/errors.js";

const FLAGS = {
  stateDir: valueFlag("--state-dir <dir>", "where"),
  timeout: defaultedFlag("--timeout <seconds>", "how long", "600"),
  accel: choiceFlag("--accel <accel>", "accelerator", ["auto", "tcg"]),
  follow: switchFlag("-f, --follow", "keep printing"),
  wait: negatedSwitch("--no-wait", "do not wait"),
  extraPackages: listFlag("--extra-packages <names>", "more", (value, previous = []) => [
    ...previous,
    ...value.split(","),
  ]),
};

function parse(...argv: string[]) {
  const command = addFlags(new Command("x").exitOverride(), FLAGS);
  command.parse(argv, { from: "user" });
  return readFlags(FLAGS, command.opts());
}

describe("flags declared once", () => {
  test("read as their declared types: unset, defaults, negations", () => {
    assert.deepEqual(parse(), {
      stateDir: undefined,
      timeout: "600",
      accel: undefined,
      follow: false,
      wait: true,
      extraPackages: undefined,
    });
  });

  test("read what was given, a repeated list flag accumulating", () => {
    assert.deepEqual(
      parse(
        "--state-dir",
        "/s",
        "--timeout",
        "5",
        "--accel",
        "tcg",
        "-f",
        "--no-wait",
        "--extra-packages",
        "a,b",
        "--extra-packages",
        "c",
      ),
      {
        stateDir: "/s",
        timeout: "5",
        accel: "tcg",
        follow: true,
        wait: false,
        extraPackages: ["a", "b", "c"],
      },
    );
  });

  test("a choice flag refuses other values (commander says which)", () => {
    assert.throws(() => parse("--accel", "kvm"), /Allowed choices are auto, tcg/);
  });

  test("a table key that is not where commander puts the value is a bug, caught at registration", () => {
    assert.throws(
      () => addFlags(new Command("x"), { statedir: valueFlag("--state-dir <dir>", "where") }),
      /declared as "statedir", but commander names it "stateDir"/,
    );
  });

  test("whole numbers are digits only, and the error names the flag", () => {
    assert.equal(wholeNumber("42", "--cpus"), 42);
    assert.equal(wholeNumber(undefined, "--cpus"), undefined);
    for (const bad of ["-1", "1.5", "4x", ""]) {
      assert.throws(
        () => wholeNumber(bad, "--cpus"),
        (error: unknown) =>
          error instanceof LinuxBuilderError &&
          error.code === "usage.number" &&
          error.message === `--cpus must be a whole number, not "${bad}"`,
      );
    }
  });
});
