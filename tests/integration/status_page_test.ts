/**
 * The status page in a real headless Chromium (see docs/observability.md, Status page): three
 * nodes on one Mosquitto, anti-entropy from the first to the two others; the page of the first renders its node
 * id and key count, the key count and the commands/s chart follow a write burst, and the page
 * says converged once the first node has seen both peers' roots equal to its own. Saves a
 * screenshot to a temp dir (and to $STATUS_PAGE_SCREENSHOT when set: that is how
 * docs/status.png is made). Behind HTTP Basic credentials, the page loads after the prompt and
 * its own requests for status.json pass. Skipped, saying why, when no chromium binary is installed.
 */

import assert from "node:assert/strict";
import puppeteer, { type Page } from "puppeteer-core";
import { Mosquitto } from "../_support/mosquitto.ts";
import { NodeProcess } from "../_support/node_process.ts";
import { UsersFile } from "../_support/auth.ts";

const CHROMIUM = findChromium();
const CHROMIUM_MISSING = "no chromium binary (apt-get install -y chromium)";

function findChromium(): string | null {
  const fromEnvironment = Deno.env.get("CHROMIUM_PATH");
  const candidates = [
    ...(fromEnvironment === undefined ? [] : [fromEnvironment]),
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
  ];
  for (const path of candidates) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // try the next one
    }
  }
  return null;
}

async function text(page: Page, selector: string): Promise<string> {
  return await page.$eval(selector, (element) => element.textContent ?? "");
}

/** Polls the page until `condition` holds for the text of `selector`. */
async function waitForText(
  page: Page,
  selector: string,
  condition: (text: string) => boolean,
  timeoutMs = 15_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await text(page, selector);
    if (condition(found)) return found;
    if (Date.now() > deadline) {
      throw new Error(`${selector} is "${found}" after ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function chartPoints(page: Page): Promise<number> {
  return Number(await page.$eval("#chart", (canvas) => canvas.getAttribute("data-points")));
}

async function chartPixels(page: Page): Promise<string> {
  // Runs in the page; Deno's type library has no DOM, so the canvas is typed by hand.
  return await page.$eval(
    "#chart",
    (canvas) => (canvas as unknown as { toDataURL(): string }).toDataURL(),
  );
}

Deno.test({
  name: `the status page in headless Chromium follows a write burst and shows the cluster converge${
    CHROMIUM === null ? ` (skipped: ${CHROMIUM_MISSING})` : ""
  }`,
  ignore: CHROMIUM === null,
  // Puppeteer's pipes and timers outlive browser.close() by a turn: its ops are not ours.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const broker = await Mosquitto.start();
    const topLevel = `mqtt_broker_address = "${broker.url}"`;
    const peers = [
      await NodeProcess.start({ nodeId: "status-b", topLevel }),
      await NodeProcess.start({ nodeId: "status-c", topLevel }),
    ];
    const addresses = peers.map((peer) => `"127.0.0.1:${peer.port}"`).join(", ");
    const node = await NodeProcess.start({
      nodeId: "status-a",
      httpPort: true,
      topLevel,
      toml: `[anti_entropy]\ninterval_ms = 300\npeers = [${addresses}]`,
    });
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM ?? "",
      headless: true,
      // --no-sandbox: tests run as root in CI containers, where Chromium's sandbox cannot start.
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
    try {
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (error) => pageErrors.push(String(error)));
      await page.setViewport({ width: 1200, height: 820 });
      await page.goto(`http://127.0.0.1:${node.httpPort}/status`);
      await waitForText(page, "#node-id", (found) => found === "status-a").catch((error) => {
        throw new Error(`${error.message}; page errors: ${pageErrors.join("; ")}`);
      });
      assert.equal(await waitForText(page, "#keys", (found) => found !== "–"), "0");
      await waitForText(page, "#banner", (found) => found === "live");
      await waitForText(page, "#replication-state", (found) => found.startsWith("connected"));
      const pixelsBefore = await chartPixels(page);

      const client = await node.connect();
      for (let round = 0; round < 10; round++) {
        const lines = [];
        for (let i = 0; i < 100 * (round % 4 + 1); i++) lines.push(`SET key-${round}-${i} v`);
        await client.pipeline(lines);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      await client.close();

      await waitForText(page, "#keys", (found) => found === "2300");
      await waitForText(page, "#commands-rate", (found) => Number(found.replace(/,/g, "")) > 0);
      assert.ok(await chartPoints(page) >= 2, "the chart holds points");
      assert.notEqual(await chartPixels(page), pixelsBefore, "the chart was redrawn");

      await waitForText(page, "#converged", (found) => found === "converged", 30_000);
      await waitForText(page, "#roots-known", (found) => found.startsWith("2 "));
      const rows = await page.$$eval("#peers tr", (found) => found.length);
      assert.equal(rows, 2);
      for (const peer of peers) {
        const peerClient = await peer.connect();
        assert.equal(Number((await peerClient.info()).get("keys")), 2300);
        await peerClient.close();
      }
      assert.deepEqual(pageErrors, [], "the page's script threw nothing");
      await saveScreenshot(page);
    } finally {
      await browser.close();
      await node.cleanup();
      for (const peer of peers) await peer.cleanup();
      await broker.cleanup();
    }
  },
});

Deno.test({
  name: `behind HTTP Basic credentials the status page asks once and then refreshes itself${
    CHROMIUM === null ? ` (skipped: ${CHROMIUM_MISSING})` : ""
  }`,
  ignore: CHROMIUM === null,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const users = await UsersFile.create("user ops on >ops-page-pw +info\n");
    const node = await NodeProcess.start({
      nodeId: "status-auth",
      httpPort: true,
      toml: `[auth]\nusers_file = "${users.path}"`,
    });
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM ?? "",
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
    try {
      const url = `http://127.0.0.1:${node.httpPort}/status`;
      // Wrong credentials at the prompt: the browser shows the 401.
      const refused = await browser.newPage();
      await refused.authenticate({ username: "ops", password: "wrong" });
      assert.equal((await refused.goto(url))?.status(), 401);
      await refused.close();
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (error) => pageErrors.push(String(error)));
      const statusJson: number[] = [];
      page.on("response", (response) => {
        if (response.url().endsWith("/status.json")) statusJson.push(response.status());
      });
      // What a person types at the browser's prompt.
      await page.authenticate({ username: "ops", password: "ops-page-pw" });
      assert.equal((await page.goto(url))?.status(), 200);
      await waitForText(page, "#node-id", (found) => found === "status-auth");
      await waitForText(page, "#banner", (found) => found === "live");
      const ok = () => statusJson.filter((status) => status === 200).length;
      const deadline = Date.now() + 10_000;
      while (ok() < 3 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.ok(ok() >= 3, `status.json answered 200 again and again: ${statusJson.join(" ")}`);
      assert.deepEqual(pageErrors, []);
    } finally {
      await browser.close();
      await node.cleanup();
      await users.remove();
    }
  },
});

async function saveScreenshot(page: Page): Promise<void> {
  const directory = await Deno.makeTempDir({ prefix: "merklekv-status-page-" });
  const path = `${directory}/status.png`;
  await page.screenshot({ path, fullPage: true });
  console.log(`status page screenshot: ${path}`);
  const copy = Deno.env.get("STATUS_PAGE_SCREENSHOT");
  if (copy !== undefined) await Deno.copyFile(path, copy);
}
