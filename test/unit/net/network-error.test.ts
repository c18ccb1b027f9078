import assert from "node:assert/strict";
import { test } from "node:test";
import { describeNetworkError } from "../../../src/net/network-error.js";

test("the system's reason hidden in a fetch error's cause is the one shown", () => {
  const refused = new TypeError("fetch failed", { cause: new Error("connect ECONNREFUSED 127.0.0.1:9") });
  assert.equal(describeNetworkError(refused), "connect ECONNREFUSED 127.0.0.1:9");
  assert.equal(describeNetworkError(new TypeError("fetch failed", { cause: new Error("") })), "fetch failed");
  assert.equal(describeNetworkError(new Error("aborted")), "aborted");
  assert.equal(describeNetworkError("plain"), "plain");
});
