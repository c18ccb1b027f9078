// Writes README.md's error code section from src/errors.ts (test/unit/cli/error-codes-markdown.test.ts
// fails until it is run after a code is added or reworded).
import { readFile, writeFile } from "node:fs/promises";
import { errorCodesMarkdown, withErrorCodesSection } from "../src/cli/error-codes-markdown.js";

const readme = new URL("../README.md", import.meta.url);
const updated = withErrorCodesSection(await readFile(readme, "utf8"), errorCodesMarkdown());
if (updated === undefined) throw new Error("README.md has no error-codes section to replace");
await writeFile(readme, updated);
