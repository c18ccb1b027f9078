import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  builderFiles,
  decodePinnedKey,
  parseMachineEntry,
  parseMachines,
} from "../../../src/nix/machines-file.js";
import { parseNixConf } from "../../../src/nix/nix-conf.js";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF/8g55zYl7I9cbjaqVXxE8XcD2wUsZQaVIu5s9ozlHr";
const PIN = Buffer.from(HOST_KEY).toString("base64");

describe("the machines file, as Nix reads it", () => {
  test("install's block: comments skipped, every field read, the pin decoded", () => {
    const text = [
      "# BEGIN linux-builder-57163",
      "# managed by `linux-builder install`, removed by `linux-builder uninstall`",
      `ssh-ng://builder@linux-builder-57163 x86_64-linux /etc/nix/linux-builder-57163_ed25519 2 1 benchmark,big-parallel - ${PIN}`,
      "# END linux-builder-57163",
      "",
    ].join("\n");
    const parsed = parseMachines(text);
    assert.deepEqual(parsed.problems, []);
    assert.equal(parsed.entries.length, 1);
    const [entry] = parsed.entries;
    assert.equal(entry?.line, 3);
    assert.equal(entry?.uri, "ssh-ng://builder@linux-builder-57163");
    assert.deepEqual(entry?.systems, ["x86_64-linux"]);
    assert.equal(entry?.sshKey, "/etc/nix/linux-builder-57163_ed25519");
    assert.equal(entry?.maxJobs, 2);
    assert.equal(entry?.speedFactor, 1);
    assert.deepEqual(entry?.supportedFeatures, ["benchmark", "big-parallel"]);
    assert.deepEqual(entry?.mandatoryFeatures, []);
    assert.equal(decodePinnedKey(entry?.publicHostKey ?? ""), HOST_KEY);
  });

  test("';' separates entries on one line; '-' and missing fields are defaults; extra fields are ignored", () => {
    const parsed = parseMachines("ssh://a x86_64-linux ; ssh://b - - - 2.5\nssh://c x 1 1 1 - - - extra");
    assert.deepEqual(
      parsed.entries.map((e) => [e.line, e.uri, e.systems, e.sshKey, e.maxJobs, e.speedFactor]),
      [
        [1, "ssh://a", ["x86_64-linux"], undefined, 1, 1],
        [1, "ssh://b", [], undefined, 1, 2.5],
        [2, "ssh://c", ["x"], "1", 1, 1],
      ],
    );
    // Read by Nix 2.20 and later; older Nix wanted a whole number.
    assert.deepEqual(
      parsed.problems.map((p) => [p.line, p.text, p.onlyBefore]),
      [[1, "ssh://b - - - 2.5", [2, 20]]],
    );
  });

  test("a key path with a space shifts the fields: Nix refuses the line, named by its number", () => {
    const parsed = parseMachines(
      `# mine\nssh-ng://builder@linux-builder x86_64-linux /Users/me/Nix Keys/key 1 1 - - ${PIN}\n`,
    );
    assert.equal(parsed.entries.length, 0);
    assert.equal(parsed.problems.length, 1);
    assert.equal(parsed.problems[0]?.line, 2);
    assert.match(parsed.problems[0]?.message ?? "", /field 4 \(max jobs\) is "Keys\/key".*white space/);
  });

  test("bad fields: no URI, a speed factor that is not a number, a pin that is not base64", () => {
    assert.equal(parseMachineEntry("- x86_64-linux", 1), "no store URI in the first field");
    assert.match(String(parseMachineEntry("ssh://a x - 1 fast", 1)), /field 5 \(speed factor\) is "fast"/);
    assert.match(String(parseMachineEntry("ssh://a x - 1 1 - - not*base64", 1)), /field 8 .* not base64/);
    assert.match(String(parseMachineEntry("ssh://a x - -1", 1)), /field 4/);
  });

  test("'@file' lines name other files; a ';' in a comment is a builder for Nix 2.28 and before", () => {
    const parsed = parseMachines("@/etc/nix/more-machines\n# old; ssh://oops x86_64-linux\nssh://a # ok\n");
    assert.deepEqual(parsed.includes, [{ line: 1, path: "/etc/nix/more-machines" }]);
    assert.deepEqual(
      parsed.entries.map((e) => e.uri),
      ["ssh://a"],
    );
    assert.equal(parsed.problems[0]?.line, 2);
    assert.match(parsed.problems[0]?.message ?? "", /Nix 2\.28 and before read "ssh:\/\/oops x86_64-linux"/);
  });

  test("the files a builders setting reads", () => {
    assert.deepEqual(builderFiles("@/etc/nix/machines"), ["/etc/nix/machines"]);
    assert.deepEqual(builderFiles("ssh://a x ; @/etc/nix/machines\n@ /other # c"), [
      "/etc/nix/machines",
      "/other",
    ]);
    assert.deepEqual(builderFiles(""), []);
  });
});

describe("nix.conf, as Nix reads it", () => {
  test("settings with their lines; include and !include relative to the file; bad lines", () => {
    const items = parseNixConf(
      [
        "# comment",
        "builders = @/etc/nix/machines ssh://a  # trailing",
        "!include nix.custom.conf",
        "include /abs/other.conf",
        "builders =",
        "nonsense",
      ].join("\n"),
      "/etc/nix/nix.conf",
    );
    assert.deepEqual(items, [
      { kind: "setting", line: 2, name: "builders", value: "@/etc/nix/machines ssh://a" },
      { kind: "include", line: 3, path: "/etc/nix/nix.custom.conf", optional: true },
      { kind: "include", line: 4, path: "/abs/other.conf", optional: false },
      { kind: "setting", line: 5, name: "builders", value: "" },
      { kind: "error", line: 6, text: "nonsense" },
    ]);
  });
});
