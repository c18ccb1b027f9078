import type { z } from "zod";

/** JSON text, or undefined where it is not JSON (a file half-written, or not ours). */
export function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** JSON text read as one of our formats, or undefined where it is not JSON or not that format. */
export function parseJsonAs<T extends z.ZodTypeAny>(schema: T, text: string): z.infer<T> | undefined {
  const parsed = schema.safeParse(parseJsonText(text));
  return parsed.success ? parsed.data : undefined;
}
