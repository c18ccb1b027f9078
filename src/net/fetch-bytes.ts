import { LinuxBuilderError } from "../errors.js";
import { describeNetworkError } from "./network-error.js";

/** Fetches a small document (an InRelease file) whole. */
export async function fetchBytes(url: string, what: string): Promise<Buffer> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new LinuxBuilderError(
      "net.fetch",
      `Cannot download ${what} from ${url}: ${describeNetworkError(error)}`,
      {
        hint: "Check the network and the mirror (--mirror), or build from a lock file with a warm cache.",
        cause: error,
      },
    );
  }
  if (!response.ok) {
    throw new LinuxBuilderError(
      "net.http-status",
      `Cannot download ${what} from ${url}: HTTP ${response.status}`,
      {
        hint:
          response.status === 404
            ? "Check the suite (--suite) and architecture (--arch)."
            : "Try again later.",
      },
    );
  }
  return Buffer.from(await response.arrayBuffer());
}
