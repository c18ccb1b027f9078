import assert from "node:assert/strict";
import { test } from "node:test";
import { isLinuxBuilderError } from "../../../src/errors.js";
import { binfmtRegistration } from "../../../src/guest/binfmt.js";
import { bootParametersFile, type GuestBootParameters } from "../../../src/guest/boot-parameters.js";

const qemu: GuestBootParameters = {
  network: { kind: "static", address: "10.0.2.15/24", gateway: "10.0.2.2", nameserver: "10.0.2.3" },
  dataDisk: "/dev/vda",
  console: "ttyS0",
  powerButton: "acpi",
};

test("the parameters file: one key=value line each, the static network's addresses only with it", () => {
  assert.equal(
    bootParametersFile(qemu, []),
    [
      "network=static",
      "address=10.0.2.15/24",
      "gateway=10.0.2.2",
      "nameserver=10.0.2.3",
      "data_disk=/dev/vda",
      "console=ttyS0",
      "power_button=acpi",
      "",
    ].join("\n"),
  );
  assert.equal(
    bootParametersFile(
      {
        network: { kind: "dhcp" },
        dataDisk: "/dev/vdb",
        console: "hvc0",
        powerButton: "pl061-gpio",
      },
      [],
    ),
    "network=dhcp\ndata_disk=/dev/vdb\nconsole=hvc0\npower_button=pl061-gpio\n",
  );
});

function refused(parameters: GuestBootParameters, message: RegExp): void {
  assert.throws(
    () => bootParametersFile(parameters, []),
    (error: unknown) =>
      isLinuxBuilderError(error) && error.code === "guest.parameters" && message.test(error.message),
  );
}

test("a value outside its key's charset is refused, saying which and what it should be", () => {
  const staticNetwork = qemu.network.kind === "static" ? qemu.network : assert.fail();
  refused({ ...qemu, dataDisk: "/dev/vda; reboot" }, /data_disk is "\/dev\/vda; reboot", not a block device/);
  refused({ ...qemu, dataDisk: "/dev/../etc/passwd" }, /data_disk/);
  refused({ ...qemu, dataDisk: "vda" }, /data_disk/);
  refused({ ...qemu, console: "ttyS0\nnetwork=dhcp" }, /console is "ttyS0\\nnetwork=dhcp", not a terminal/);
  refused({ ...qemu, console: "$(reboot)" }, /console/);
  refused(
    { ...qemu, network: { ...staticNetwork, address: "10.0.2.15" } },
    /address is "10.0.2.15", not an IPv4 address with its prefix/,
  );
  refused({ ...qemu, network: { ...staticNetwork, address: "10.0.2.300/24" } }, /address/);
  refused({ ...qemu, network: { ...staticNetwork, address: "10.0.2.15/33" } }, /address/);
  refused(
    { ...qemu, network: { ...staticNetwork, gateway: "10.0.2" } },
    /gateway is "10.0.2", not an IPv4 address/,
  );
  refused({ ...qemu, network: { ...staticNetwork, nameserver: "dns.example" } }, /nameserver/);
  refused(
    { ...qemu, powerButton: "gpio" as GuestBootParameters["powerButton"] },
    /power_button is "gpio", not acpi or pl061-gpio/,
  );
});

test("each emulated system adds its binfmt_misc registration line, which the key accepts", () => {
  const file = bootParametersFile(qemu, ["aarch64-linux", "x86_64-linux"]);
  assert.deepEqual(
    file.split("\n").filter((line) => line.startsWith("binfmt=")),
    [`binfmt=${binfmtRegistration("aarch64-linux")}`, `binfmt=${binfmtRegistration("x86_64-linux")}`],
  );
  assert.doesNotMatch(bootParametersFile(qemu, []), /binfmt/);
});
