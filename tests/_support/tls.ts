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
