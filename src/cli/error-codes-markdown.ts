import { ERROR_CODES } from "../errors.js";

/** README.md's error code section lies between these lines; scripts/readme-error-codes.ts writes it. */
export const ERROR_CODES_BEGIN =
  "<!-- error-codes: generated from src/errors.ts by `npx tsx scripts/readme-error-codes.ts`; do not edit -->";
export const ERROR_CODES_END = "<!-- /error-codes -->";

/** The list of every error code and its meaning, for `--json` users, as README.md shows it. */
export function errorCodesMarkdown(): string {
  const items = Object.entries(ERROR_CODES).map(([code, meaning]) => `- \`${code}\`: ${meaning}`);
  return [ERROR_CODES_BEGIN, "", ...items, "", ERROR_CODES_END].join("\n");
}

/** The README's text with its generated section replaced by `section`; undefined when it has none. */
export function withErrorCodesSection(readme: string, section: string): string | undefined {
  const begin = readme.indexOf(ERROR_CODES_BEGIN);
  const end = readme.indexOf(ERROR_CODES_END);
  if (begin === -1 || end < begin) return undefined;
  return `${readme.slice(0, begin)}${section}${readme.slice(end + ERROR_CODES_END.length)}`;
}
