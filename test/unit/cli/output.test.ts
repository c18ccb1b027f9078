import assert from "node:assert/strict";
import { test } from "node:test";
import { consoleReporter } from "../../../src/cli/output.js";

/** Runs `body` with process.stderr looking like an 80-column terminal, and returns what it wrote. */
function onTerminal(body: () => void): string {
  const stderr = process.stderr as NodeJS.WriteStream & { isTTY: boolean; columns: number };
  const { write, isTTY, columns } = stderr;
  const written: string[] = [];
  stderr.isTTY = true;
  stderr.columns = 80;
  stderr.write = ((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  }) as typeof stderr.write;
  try {
    body();
  } finally {
    stderr.write = write;
    stderr.isTTY = isTTY;
    stderr.columns = columns;
  }
  return written.join("");
}

/** Two downloads of 1 KiB each, half of them done, reported with TERM=`term`: what stderr showed. */
function downloadsReported(term: string): string {
  return onTerminal(() => {
    const reporter = consoleReporter({ quiet: false, env: { TERM: term } });
    reporter.downloadStart(2048, 2);
    reporter.downloadProgress(1024);
    reporter.downloadEnd();
  });
}

test("on a terminal, a composition's downloads draw a progress bar (its library loaded only then)", () => {
  const text = downloadsReported("xterm-256color");
  assert.match(text, /Fetching 2 packages \(2\.0 KiB, verified against the signed index\)\n/);
  assert.match(text, /0% \| 0 B of 2\.0 KiB/);
  assert.match(text, /50% \| 1\.0 KiB of 2\.0 KiB/);
});

test("off a terminal (or with TERM=dumb) the downloads are one line, no bar", () => {
  const text = downloadsReported("dumb");
  assert.equal(text, "Fetching 2 packages (2.0 KiB, verified against the signed index)\n");
});
