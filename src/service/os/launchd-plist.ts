/** The launch daemon (macOS) that keeps `linux-builder serve` running: launchd.plist(5) as text. */
import {
  checkServiceDefinition,
  SERVICE_MARKER,
  type ServiceDefinition,
  STOP_TIMEOUT_SECONDS,
  serviceName,
} from "./service-definition.js";

/** XML's text escapes; control characters were refused before (XML 1.0 cannot hold them). */
export function xmlText(value: string): string {
  return value.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

type PlistValue = string | number | boolean | readonly string[] | { readonly [key: string]: string };

function plistValue(value: PlistValue, indent: string): string[] {
  if (typeof value === "boolean") return [`${indent}<${value}/>`];
  if (typeof value === "number") return [`${indent}<integer>${value}</integer>`];
  if (typeof value === "string") return [`${indent}<string>${xmlText(value)}</string>`];
  if (Array.isArray(value)) {
    return [
      `${indent}<array>`,
      ...value.map((item) => `${indent}\t<string>${xmlText(item)}</string>`),
      `${indent}</array>`,
    ];
  }
  return [
    `${indent}<dict>`,
    ...dictEntries(value as Record<string, string>, `${indent}\t`),
    `${indent}</dict>`,
  ];
}

function dictEntries(entries: Readonly<Record<string, PlistValue>>, indent: string): string[] {
  return Object.entries(entries).flatMap(([key, value]) => [
    `${indent}<key>${xmlText(key)}</key>`,
    ...plistValue(value, indent),
  ]);
}

/**
 * /Library/LaunchDaemons/local.<alias>.plist: a system daemon (it runs without anyone logged in,
 * as the Nix daemon that uses it does) running serve as the installing user.
 */
export function launchdPlist(service: ServiceDefinition): string {
  checkServiceDefinition(service);
  const daemon: Record<string, PlistValue> = {
    Label: serviceName("launchd", service.alias),
    UserName: service.user,
    ProgramArguments: service.argv,
    EnvironmentVariables: service.environment,
    // No WorkingDirectory: serve is given only absolute paths, and launchd would fail to spawn it,
    // again every 10 s, in a state folder deleted to start afresh.
    RunAtLoad: true,
    // Restarted whenever it exits: serve runs until it is told to stop.
    KeepAlive: true,
    // Builds wait on it: launchd throttles Background jobs' CPU and I/O.
    ProcessType: "Interactive",
    // Time to power the VM off cleanly before launchd's SIGKILL (its default is 20 s).
    ExitTimeOut: STOP_TIMEOUT_SECONDS,
    // serve writes its own log there; a crash's trace lands beside it.
    StandardOutPath: service.logFile,
    StandardErrorPath: service.logFile,
  };
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">`,
    `<!-- ${SERVICE_MARKER} -->`,
    `<plist version="1.0">`,
    `<dict>`,
    ...dictEntries(daemon, "\t"),
    `</dict>`,
    `</plist>`,
    "",
  ].join("\n");
}
