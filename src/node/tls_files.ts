/**
 * Reads the tls.* files (see docs/security.md, TLS) at start and at every reload: whole and
 * valid, or a ConfigError naming the key and the file, never their contents. What it returns is
 * what the client port, the HTTP listener and anti-entropy use until the next reload.
 */

import { createPrivateKey, X509Certificate } from "node:crypto";
import { ConfigError, type TlsConfig } from "../config/mod.ts";
import type { ServerTls } from "../server/mod.ts";
import type { ClientTls } from "../client/mod.ts";

export interface TlsFiles {
  /** The client port's (and the HTTP listener's) certificate; null: plain TCP. */
  server: ServerTls | null;
  /** How this node connects to peers; null: plain TCP (no tls.cert_file, no tls.ca_file). */
  peers: ClientTls | null;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----/;
const PEM_PRIVATE_KEY = /-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/;

export function readTlsFiles(config: TlsConfig): TlsFiles {
  const cert = config.certFile === null ? null : readPem("tls.cert_file", config.certFile, "cert");
  const key = config.keyFile === null ? null : readPem("tls.key_file", config.keyFile, "key");
  const ca = config.caFile === null ? null : readPem("tls.ca_file", config.caFile, "cert");
  if (cert !== null && key !== null) checkKeyMatches(cert, key, config);
  const server = cert === null || key === null
    ? null
    : { cert, key, ca, requireClientCert: config.requireClientCert };
  const peers = cert === null && ca === null ? null : {
    ...(ca === null ? {} : { ca }),
    ...(cert === null || key === null ? {} : { cert, key }),
    ...(config.serverName === null ? {} : { serverName: config.serverName }),
  };
  return { server, peers };
}

function readPem(keyPath: string, file: string, kind: "cert" | "key"): string {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`Cannot read ${keyPath} ${JSON.stringify(file)}: ${reason}`);
  }
  const [pattern, expected] = kind === "cert"
    ? [PEM_CERTIFICATE, 'a PEM certificate ("-----BEGIN CERTIFICATE-----")']
    : [PEM_PRIVATE_KEY, 'a PEM private key ("-----BEGIN PRIVATE KEY-----")'];
  if (!pattern.test(text)) {
    throw new ConfigError(`Invalid ${keyPath} ${JSON.stringify(file)}: must be ${expected}`);
  }
  return text;
}

/** The first certificate of the chain must be the key's; messages name files, not contents. */
function checkKeyMatches(cert: string, key: string, config: TlsConfig): void {
  let matches: boolean;
  try {
    matches = new X509Certificate(cert).checkPrivateKey(createPrivateKey(key));
  } catch (error) {
    const reason = error instanceof Error ? error.message.slice(0, 200) : "unreadable";
    throw new ConfigError(
      `Invalid tls.cert_file ${JSON.stringify(config.certFile)} or tls.key_file ` +
        `${JSON.stringify(config.keyFile)}: cannot be parsed (${reason})`,
    );
  }
  if (!matches) {
    throw new ConfigError(
      `Invalid tls.key_file ${JSON.stringify(config.keyFile)}: is not the private key of ` +
        `the certificate in tls.cert_file ${JSON.stringify(config.certFile)}`,
    );
  }
}
