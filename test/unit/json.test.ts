import assert from "node:assert/strict";
import { test } from "node:test";
import { z } from "zod";
import { parseJson, parseJsonFormat } from "../../src/json.js";

const schema = z.object({ name: z.string(), sizes: z.array(z.number().int()) }).strict();
const errors = {
  syntax: (reason: string) => new Error(`syntax in f.json: ${reason}`),
  invalid: (field: string, message: string) => new Error(`f.json: field ${field}: ${message}`),
};

test("parseJsonFormat returns the value of the format", () => {
  assert.deepEqual(parseJsonFormat(schema, '{"name":"a","sizes":[1,2]}', errors), {
    name: "a",
    sizes: [1, 2],
  });
});

test("text that is not JSON gets the caller's syntax error, with the parser's reason", () => {
  assert.throws(() => parseJsonFormat(schema, "{ half", errors), /^Error: syntax in f\.json: .*JSON/);
  assert.throws(() => parseJson("", (reason) => new Error(`empty: ${reason}`)), /^Error: empty: /);
  assert.deepEqual(parseJson("[1]", errors.syntax), [1]);
});

test("a value not of the format names the first wrong field by its dotted path, or (root)", () => {
  assert.throws(() => parseJsonFormat(schema, '{"name":"a","sizes":[1,2.5]}', errors), {
    message: /^f\.json: field sizes\.1: Expected integer/,
  });
  assert.throws(() => parseJsonFormat(schema, "[]", errors), {
    message: /^f\.json: field \(root\): Expected object/,
  });
});
