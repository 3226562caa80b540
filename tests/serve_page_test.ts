/**
 * The pages of `deepwater serve` in a real headless Chromium (Debian's
 * `chromium`, installed by scripts/system_deps.sh), driven over the DevTools
 * protocol while a writer appends: the index lists the feed, the feed page's
 * chart gains points and its table's rows change, and a screenshot is saved
 * under test-artifacts/.
 *
 * @module
 */
import { Platform } from "../mod.ts";
import { serve } from "../serve.ts";
import { assert, assertEquals } from "./assert.ts";
import { tempDir, tradeSpec } from "./helpers.ts";
import { Browser, findChromium } from "./cdp.ts";

const artifacts = new URL("../test-artifacts/", import.meta.url).pathname;

Deno.test("serve page: the chart and the table follow a feed live in headless Chromium", async () => {
  const chromium = findChromium();
  assert(
    chromium,
    "Chromium is not installed: run bash scripts/system_deps.sh (apt-get install chromium), or set $CHROMIUM",
  );
  using d = tempDir();
  using rw = new Platform(d.path, { log: { console: false }, signals: "none" });
  rw.createFeed(tradeSpec("trades"));
  using writer = rw.createWriter("trades");
  // History: one trade a second for the last minute, so the page seeds 60 points.
  const start = (Math.floor(Date.now() / 1000) - 60) * 1_000_000;
  let ts = start;
  let n = 0;
  const append = () => {
    writer.writeValues(100 + Math.sin(n / 5) * 3 + n / 50, 1 + (n % 7), ts);
    ts += 1_000_000;
    n++;
  };
  for (let i = 0; i < 60; i++) append();
  using ro = new Platform(d.path, { readOnly: true, log: { console: false }, signals: "none" });
  await using server = await serve(ro, { port: 0 });
  await using browser = await Browser.launch(chromium);

  await browser.goto(server.url);
  assertEquals(
    await browser.evaluate<string>("document.querySelector('#feeds a')?.textContent"),
    "trades",
  );

  await browser.goto(`${server.url}feed/trades`);
  await browser.waitFor("window.deepwaterPage?.status === 'live'", 10_000);
  await browser.waitFor(
    "window.deepwaterPage.points >= 60 && window.deepwaterPage.rows === 25",
    10_000,
  );
  assertEquals(await browser.evaluate<string>("window.deepwaterPage.field"), "price");
  const firstRow = () =>
    browser.evaluate<string>("document.querySelector('#records tbody tr').textContent");
  const before = await firstRow();
  const pointsBefore = await browser.evaluate<number>("window.deepwaterPage.points");

  // The writer appends (a trade a second of feed time, every 20 ms) while the page watches.
  const timer = setInterval(append, 20);
  try {
    await browser.waitFor(`window.deepwaterPage.points >= ${pointsBefore + 20}`, 10_000);
  } finally {
    clearInterval(timer);
  }
  // History and live stream meet with no gap and no duplicate: every record shown once.
  await browser.waitFor(`window.deepwaterPage.received === ${n}`, 10_000);
  const after = await firstRow();
  assert(after !== before, `the newest row did not change: ${after}`);
  const shown = await browser.evaluate<number>("window.deepwaterPage.lastTs");
  assert(shown >= start + 79_000_000, `the page shows records up to ${shown} only`);
  // The chart drew onto its canvases (not a blank area).
  assert(
    await browser.evaluate<boolean>(
      "[...document.querySelectorAll('#chart canvas')].some((c) => c.width > 100 && c.height > 100)",
    ),
  );

  Deno.mkdirSync(artifacts, { recursive: true });
  const png = await browser.screenshot();
  assertEquals([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
  const path = `${artifacts}serve-feed-page.png`;
  Deno.writeFileSync(path, png);
  // deno-lint-ignore no-console -- where the artifact is
  console.log(`screenshot: ${path}`);

  // ?field= picks the charted field.
  await browser.goto(`${server.url}feed/trades?field=size`);
  await browser.waitFor("window.deepwaterPage?.points > 0", 10_000);
  assertEquals(await browser.evaluate<string>("window.deepwaterPage.field"), "size");
});
