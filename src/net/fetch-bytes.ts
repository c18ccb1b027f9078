import { LinuxBuilderError } from "../errors.js";
import { type HttpResponse, httpGet } from "./http-get.js";
import { describeNetworkError } from "./network-error.js";

/** Fetches a small document (an InRelease file) whole. */
export async function fetchBytes(url: string, what: string): Promise<Buffer> {
  const failed = (error: unknown) =>
    new LinuxBuilderError(
      "net.fetch",
      `Cannot download ${what} from ${url}: ${describeNetworkError(error)}`,
      {
        hint: "Check the network and the mirror (--mirror), or build from a lock file with a warm cache.",
        cause: error,
      },
    );
  let response: HttpResponse;
  try {
    response = await httpGet(url);
  } catch (error) {
    throw failed(error);
  }
  if (response.status < 200 || response.status > 299) {
    response.discard();
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
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of response.body) chunks.push(chunk);
  } catch (error) {
    throw failed(error);
  }
  return Buffer.concat(chunks);
}
