import { readFile } from "node:fs/promises";

/** The bytes of `path`, or the error `failure` makes of why they cannot be read (naming the file for the user). */
export async function readFileOr(path: string, failure: (cause: unknown) => Error): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (cause) {
    throw failure(cause);
  }
}
