/** Text indented by `by` (blank lines left blank, trailing white space dropped): for what we print. */
export function indentLines(text: string, by: string): string {
  return text
    .trimEnd()
    .split("\n")
    .map((line) => (line === "" ? line : `${by}${line}`))
    .join("\n");
}
