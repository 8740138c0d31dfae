/**
 * Certificates and password files for broker TLS/authentication tests, made with the openssl
 * and mosquitto_passwd command-line tools into a directory the caller owns.
 */

export interface Certificates {
  caFile: string;
  certFile: string;
  keyFile: string;
}

async function run(command: string, args: string[]): Promise<void> {
  const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
    .output();
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr);
    throw new Error(`${command} ${args.join(" ")} failed (${output.code}):\n${stderr}`);
  }
}

/** A private CA and a server certificate it signed, valid for 127.0.0.1 and localhost. */
export async function makeCertificates(directory: string): Promise<Certificates> {
  const path = (name: string) => `${directory}/${name}`;
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-keyout",
    path("ca.key"),
    "-out",
    path("ca.crt"),
    "-subj",
    "/CN=MerkleKV test CA",
  ]);
  await run("openssl", [
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    path("server.key"),
    "-out",
    path("server.csr"),
    "-subj",
    "/CN=localhost",
  ]);
  await Deno.writeTextFile(path("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    path("server.csr"),
    "-CA",
    path("ca.crt"),
    "-CAkey",
    path("ca.key"),
    "-CAcreateserial",
    "-days",
    "2",
    "-out",
    path("server.crt"),
    "-extfile",
    path("server.ext"),
  ]);
  // The broker may drop root privileges before reading these.
  for (const name of ["ca.crt", "server.crt", "server.key"]) await Deno.chmod(path(name), 0o644);
  await Deno.chmod(directory, 0o755);
  return { caFile: path("ca.crt"), certFile: path("server.crt"), keyFile: path("server.key") };
}

/** A mosquitto password file with one user. */
export async function makePasswordFile(
  path: string,
  username: string,
  password: string,
): Promise<void> {
  await run("mosquitto_passwd", ["-b", "-c", path, username, password]);
  await Deno.chmod(path, 0o644);
}

/** PEM files of one certificate and its key. */
export interface KeyPair {
  certFile: string;
  keyFile: string;
}

/** A test PKI for MerkleKV's own TLS (see docs/security.md, TLS); every path is a PEM file. */
export interface TestPki {
  /** The CA the nodes trust. */
  caFile: string;
  /** Signed by caFile, for 127.0.0.1 and localhost. */
  server: KeyPair;
  /** A second server certificate from the same CA (a reload swaps to it). */
  renewed: KeyPair;
  /** A client certificate signed by caFile. */
  client: KeyPair;
  /** A CA nobody trusts, and a server and a client certificate it signed. */
  untrustedCaFile: string;
  untrustedServer: KeyPair;
  untrustedClient: KeyPair;
}

/** Why openssl-made certificates cannot be used here, or null when they can. */
export function opensslUnavailableReason(): string | null {
  try {
    const output = new Deno.Command("openssl", {
      args: ["version"],
      stdout: "null",
      stderr: "null",
    })
      .outputSync();
    return output.success ? null : "openssl version failed";
  } catch {
    return "openssl is not installed (apt-get install openssl)";
  }
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

async function makeCa(directory: string, name: string): Promise<string> {
  const path = (file: string) => `${directory}/${name}.${file}`;
  await run("openssl", [
    "req",
    "-x509",
    ...EC_KEY,
    "-days",
    "2",
    "-keyout",
    path("key"),
    "-out",
    path("crt"),
    "-subj",
    `/CN=MerkleKV test ${name}`,
  ]);
  return path("crt");
}

/** A certificate for 127.0.0.1 and localhost signed by the CA `caFile` (key next to it). */
async function makeSigned(directory: string, name: string, caFile: string): Promise<KeyPair> {
  const path = (file: string) => `${directory}/${name}.${file}`;
  const caKey = caFile.replace(/\.crt$/, ".key");
  await run("openssl", [
    "req",
    ...EC_KEY,
    "-keyout",
    path("key"),
    "-out",
    path("csr"),
    "-subj",
    `/CN=${name}`,
  ]);
  await Deno.writeTextFile(path("ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    path("csr"),
    "-CA",
    caFile,
    "-CAkey",
    caKey,
    "-CAcreateserial",
    "-days",
    "2",
    "-out",
    path("crt"),
    "-extfile",
    path("ext"),
  ]);
  return { certFile: path("crt"), keyFile: path("key") };
}

/** Makes a TestPki in `directory` (EC P-256 keys: quick to make). */
export async function makeTestPki(directory: string): Promise<TestPki> {
  const caFile = await makeCa(directory, "ca");
  const untrustedCaFile = await makeCa(directory, "untrusted-ca");
  return {
    caFile,
    server: await makeSigned(directory, "server", caFile),
    renewed: await makeSigned(directory, "renewed", caFile),
    client: await makeSigned(directory, "client", caFile),
    untrustedCaFile,
    untrustedServer: await makeSigned(directory, "untrusted-server", untrustedCaFile),
    untrustedClient: await makeSigned(directory, "untrusted-client", untrustedCaFile),
  };
}

/** The `[tls]` section that serves `pair`, with more lines after it. */
export function tlsSection(pair: KeyPair, ...lines: string[]): string {
  return ["[tls]", `cert_file = "${pair.certFile}"`, `key_file = "${pair.keyFile}"`, ...lines]
    .join("\n");
}
