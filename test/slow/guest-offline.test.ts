/**
 * The builder offline, under TCG, through the host's Nix and exactly what install writes: a cache the
 * guest reached earlier in the boot (an extra substituter served by this test on the host, which the
 * guest sees at 10.0.2.2) goes away, as on a laptop leaving the network. The next build still
 * succeeds (Nix failed it, "unable to download '…narinfo'", before the guest's nix.conf set
 * `fallback`), and what the guest adds to its output is two lines per unreachable cache, with no
 * retries (Nix's default was five attempts with backoff, each one a line).
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { derivation, type InstalledBuilder, installedBuilder } from "../support/installed-builder.js";

/** A binary cache with nothing in it but its nix-cache-info, on 127.0.0.1: the paths asked for. */
async function emptyCache(): Promise<{ server: Server; port: number; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    requests.push(request.url ?? "");
    if (request.url === "/nix-cache-info") {
      response.end("StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 30\n");
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert(address !== null && typeof address === "object");
  return { server, port: address.port, requests };
}

/** What the guest said during a build: the host's Nix relays it after it names the builder. */
function guestLines(stderr: string): string[] {
  const lines = stderr.split("\n");
  const dispatched = lines.findIndex((line) => / on 'ssh-ng:\/\/builder@/.test(line));
  assert(dispatched >= 0, `the build was not dispatched to the builder:\n${stderr}`);
  return lines.slice(dispatched + 1);
}

describe("the builder offline (slow)", () => {
  let builder: InstalledBuilder;
  let cache: Awaited<ReturnType<typeof emptyCache>>;
  /** nix-build through exactly the machines file and ssh alias install wrote; how long it took. */
  const nixBuild = async (name: string) => {
    const started = Date.now();
    const result = await builder.nixBuild(derivation(name));
    return { ...result, seconds: (Date.now() - started) / 1000 };
  };

  before(async () => {
    cache = await emptyCache();
    builder = await installedBuilder({
      name: "guest-offline",
      config: { extraSubstituters: [`http://10.0.2.2:${cache.port}`] },
      cpus: 2,
      memoryMiB: 1024,
      diskGiB: 4,
    });
  });

  after(async () => {
    cache.server.close();
    await builder?.cleanup();
  });

  test("a cache gone offline: the build succeeds, the guest says two lines for it and retries nothing", {
    timeout: 30 * 60_000,
  }, async () => {
    const { cli } = builder;
    await cli("start");
    await builder.install();

    // Online: the guest asks the cache about the output before it builds it.
    const online = await nixBuild("lb-online");
    const hash = /\/nix\/store\/(\w{32})-lb-online$/m.exec(online.stdout)?.[1];
    assert(hash, online.stdout);
    assert.deepEqual(cache.requests, ["/nix-cache-info", `/${hash}.narinfo`]);

    // Offline: connections to the cache are refused now.
    cache.server.close();
    cache.server.closeAllConnections();
    const offline = await nixBuild("lb-offline");
    assert.match(offline.stdout, /^\/nix\/store\/\w{32}-lb-offline$/m);
    const said = guestLines(offline.stderr);
    const url = `http://10.0.2.2:${cache.port}`;
    const aboutTheCache = said.filter((line) => line.includes(url));
    assert.equal(aboutTheCache.length, 2, aboutTheCache.join("\n"));
    assert.equal(aboutTheCache[0], `disabling binary cache '${url}' for 60 seconds`);
    assert.match(
      aboutTheCache[1] ?? "",
      new RegExp(
        `^error: unable to download '${url}/\\w{32}\\.narinfo': Could not connect to server \\(7\\) .*$`,
      ),
    );
    assert.deepEqual(
      said.filter((line) => /retrying in \d+ ms/.test(line)),
      [],
      "the guest retried a download",
    );
    // The image's own cache (cache.nixos.org), reachable or not from here: at most the same two.
    const aboutAnyCache = said.filter((line) => /unable to download|disabling binary cache/.test(line));
    assert(aboutAnyCache.length <= 4, aboutAnyCache.join("\n"));
    process.stdout.write(
      `# a build took ${online.seconds.toFixed(1)} s with the cache, ${offline.seconds.toFixed(1)} s without\n`,
    );

    assert.match((await cli("stop")).stderr, /powered off cleanly/);
  });
});
