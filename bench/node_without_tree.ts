/**
 * A node whose store does not keep the Merkle tree: for the anti-entropy benchmark only, to
 * measure what keeping the tree costs a node's write throughput. Not for use: without the
 * tree, HASH and anti-entropy do not work. Takes main.ts's --config flag.
 */

import { loadConfig } from "../src/config/mod.ts";
import { stderrLogger } from "../src/node/log.ts";
import { startNode } from "../src/node/start_node.ts";

const { config } = loadConfig({
  argv: Deno.args,
  env: Deno.env.toObject(),
  readTextFile: (path) => Deno.readTextFileSync(path),
});
const node = await startNode(config, stderrLogger(config.logLevel), undefined, {
  maintainTree: false,
});
const stop = async () => {
  await node.close();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
