import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, test } from "node:test";
import {
  ERROR_CODES_BEGIN,
  ERROR_CODES_END,
  errorCodesMarkdown,
  withErrorCodesSection,
} from "../../../src/cli/error-codes-markdown.js";
import { ERROR_CODES } from "../../../src/errors.js";

describe("README's error codes", () => {
  test("are exactly the table's (else: npx tsx scripts/readme-error-codes.ts)", async () => {
    const readme = await readFile(new URL("../../../README.md", import.meta.url), "utf8");
    const begin = readme.indexOf(ERROR_CODES_BEGIN);
    const end = readme.indexOf(ERROR_CODES_END);
    assert.ok(begin !== -1 && end > begin, "README.md has its generated error-codes section");
    assert.equal(readme.slice(begin, end + ERROR_CODES_END.length), errorCodesMarkdown());
  });

  test("list each code once with its meaning", () => {
    const lines = errorCodesMarkdown().split("\n");
    for (const [code, meaning] of Object.entries(ERROR_CODES)) {
      assert.equal(lines.filter((line) => line.startsWith(`- \`${code}\`:`)).length, 1, code);
      assert.ok(lines.includes(`- \`${code}\`: ${meaning}`), code);
    }
    assert.equal(lines.length, Object.keys(ERROR_CODES).length + 4);
  });

  test("replace only what lies between the markers", () => {
    const readme = `# x\n\n${ERROR_CODES_BEGIN}\nold\n${ERROR_CODES_END}\n\n## after\n`;
    assert.equal(withErrorCodesSection(readme, "NEW"), "# x\n\nNEW\n\n## after\n");
    assert.equal(withErrorCodesSection("# no section\n", "NEW"), undefined);
  });
});
