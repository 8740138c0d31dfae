/**
 * A network namespace joined to this machine by a veth pair, for tests that need a client at a
 * non-loopback address. The pair carries a 10.213.x.y/30 on its two ends only: no route,
 * forwarding or NAT beyond it, so traffic flows between the namespace and this machine alone.
 * Needs Linux, the `ip` command and CAP_NET_ADMIN (root); netnsUnavailableReason() says why
 * not, for the test to skip visibly.
 */

export interface Netns {
  readonly name: string;
  /** This machine's end of the pair. */
  readonly hostAddress: string;
  /** The namespace's end: the address its clients connect from. */
  readonly namespaceAddress: string;
  /** A command run inside the namespace. */
  command(program: string, args: string[], options?: Deno.CommandOptions): Deno.Command;
  close(): Promise<void>;
}

async function ip(args: string[]): Promise<void> {
  const output = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  if (!output.success) {
    throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(output.stderr).trim()}`);
  }
}

let created = 0;

/** Creates the namespace and the pair; close() removes both. */
export async function createNetns(): Promise<Netns> {
  // Unique per process and call; interface names must stay within 15 characters.
  const call = created++;
  const id = `${Deno.pid % 100_000}${call}`;
  const name = `mkv${id}`;
  const hostLink = `mkvh${id}`;
  const namespaceLink = `mkvn${id}`;
  // A /30 per process and call: 10.213.<pid mod 256>.<4 x call>.
  const subnet = `10.213.${Deno.pid % 256}`;
  const first = (call % 64) * 4;
  const hostAddress = `${subnet}.${first + 1}`;
  const namespaceAddress = `${subnet}.${first + 2}`;
  const close = async () => {
    // Deleting the namespace deletes its end of the pair, and with it the other end.
    await ip(["netns", "delete", name]).catch(() => {});
    await ip(["link", "delete", hostLink]).catch(() => {});
  };
  try {
    await ip(["netns", "add", name]);
    await ip(["link", "add", hostLink, "type", "veth", "peer", "name", namespaceLink]);
    await ip(["link", "set", namespaceLink, "netns", name]);
    await ip(["addr", "add", `${hostAddress}/30`, "dev", hostLink]);
    await ip(["link", "set", hostLink, "up"]);
    await ip(["-n", name, "addr", "add", `${namespaceAddress}/30`, "dev", namespaceLink]);
    await ip(["-n", name, "link", "set", namespaceLink, "up"]);
    await ip(["-n", name, "link", "set", "lo", "up"]);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    name,
    hostAddress,
    namespaceAddress,
    command: (program, args, options = {}) =>
      new Deno.Command("ip", { ...options, args: ["netns", "exec", name, program, ...args] }),
    close,
  };
}

/** Why this machine cannot run namespace tests, or null when it can (tried for real). */
export async function netnsUnavailableReason(): Promise<string | null> {
  if (Deno.build.os !== "linux") return `network namespaces need Linux, this is ${Deno.build.os}`;
  try {
    await new Deno.Command("ip", { args: ["-V"], stdout: "null", stderr: "null" }).output();
  } catch {
    return "the ip command (iproute2) is not installed";
  }
  try {
    const netns = await createNetns();
    await netns.close();
    return null;
  } catch (error) {
    return `this machine refuses a network namespace (needs root or CAP_NET_ADMIN): ${
      error instanceof Error ? error.message : String(error)
    }`;
  }
}
