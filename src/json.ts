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

/** JSON text parsed, or the error `syntaxError` makes of why not (naming the file for the user). */
export function parseJson(text: string, syntaxError: (reason: string) => Error): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw syntaxError((error as Error).message);
  }
}

/** How a file of one of our JSON formats reports that it is not JSON, or not that format. */
export interface JsonFormatErrors {
  syntax(reason: string): Error;
  /** `field`: the dotted path of the first wrong field, "(root)" for the whole value. */
  invalid(field: string, message: string): Error;
}

/** A JSON text read as one of our formats; errors name the field, and the caller's name the file. */
export function parseJsonFormat<T extends z.ZodTypeAny>(
  schema: T,
  text: string,
  errors: JsonFormatErrors,
): z.infer<T> {
  const result = schema.safeParse(parseJson(text, errors.syntax));
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw errors.invalid(issue?.path.join(".") || "(root)", issue?.message ?? "invalid");
}
