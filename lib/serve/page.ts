/**
 * The pages a person watches: `/` lists the feeds, `/feed/NAME` draws a
 * live price chart and a table of the newest records, fed by the live
 * stream. The chart library (TradingView Lightweight Charts, Apache-2.0,
 * from npm) is served by this server from the npm package's standalone
 * build, never from a CDN; the page's own script is {@linkcode PAGE_SCRIPT}.
 *
 * @module
 */
import { version as chartVersion } from "npm:lightweight-charts@^5.2.1";
import { DeepwaterError } from "../base/errors.ts";
import type { FeedInfo } from "../ops/feed_stats.ts";

/** Where the chart library is served (versioned, so it can be cached for good). */
export const CHART_PATH = `/assets/lightweight-charts-${chartVersion()}.js`;
/** Where the page's script is served. */
export const SCRIPT_PATH = "/assets/feed-page.js";

/** Headers of every page and asset: nothing loads from elsewhere. */
export const PAGE_HEADERS = {
  "content-security-policy":
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

let chartSource: Uint8Array<ArrayBuffer> | undefined;

/**
 * The chart library's standalone production build, read once from the npm
 * package Deno resolved for this module.
 *
 * @returns the script's bytes; `IO` naming the path when it cannot be read
 * @example
 * ```ts
 * import { chartScript } from "./page.ts";
 * console.assert(new TextDecoder().decode(chartScript()).includes("Lightweight Charts"));
 * ```
 */
export function chartScript(): Uint8Array<ArrayBuffer> {
  if (chartSource) return chartSource;
  // The package's exports map names only its ES modules; the standalone
  // build sits beside them in dist/.
  const url = new URL(
    "lightweight-charts.standalone.production.js",
    import.meta.resolve("npm:lightweight-charts@^5.2.1"),
  );
  try {
    chartSource = Deno.readFileSync(url);
  } catch (e) {
    throw new DeepwaterError(
      "IO",
      `Cannot read the chart library "${url.href}": ${e}: run deno install (or deno cache) so the npm package lightweight-charts is present`,
      { cause: e },
    );
  }
  return chartSource;
}

/**
 * Text safe inside HTML elements and attribute values.
 *
 * @param s any text
 * @returns it with `& < > " '` escaped
 * @example
 * ```ts
 * import { escapeHtml } from "./page.ts";
 * console.assert(escapeHtml('<a href="x">') === "&lt;a href=&quot;x&quot;&gt;");
 * ```
 */
export function escapeHtml(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

const STYLE = `
:root { color-scheme: dark; --bg: #0f1419; --fg: #d8dee9; --dim: #7b8794; --line: #243040; --acc: #4fa3ff; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, sans-serif; }
header { display: flex; gap: 1rem; align-items: baseline; padding: .8rem 1.2rem; border-bottom: 1px solid var(--line); }
header h1 { font-size: 1.1rem; margin: 0; }
header a { color: var(--dim); text-decoration: none; }
main { padding: 1rem 1.2rem; }
a { color: var(--acc); }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: right; padding: .25rem .6rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { color: var(--dim); font-weight: 500; }
#chart { height: 360px; margin-bottom: 1rem; border: 1px solid var(--line); }
#status { color: var(--dim); }
#status.live { color: #5fd38d; }
#status.failed { color: #ff6b6b; }
.muted { color: var(--dim); }
`;

function page(title: string, body: string, script = ""): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
${script}
</head>
<body>
${body}
</body>
</html>
`;
}

function isoOf(us: number | null): string {
  if (us === null) return "—";
  const d = new Date(Math.floor(us / 1000));
  return Number.isNaN(d.getTime()) ? String(us) : d.toISOString();
}

/**
 * The index page: every feed with its storage, records and newest record.
 *
 * @param infos the feeds' statistics
 * @returns the HTML
 * @example
 * ```ts
 * import { indexPage } from "./page.ts";
 * console.assert(indexPage([]).includes("No feeds"));
 * ```
 */
export function indexPage(infos: readonly FeedInfo[]): string {
  const rows = infos.map((i) => {
    const href = `/feed/${encodeURIComponent(i.name)}`;
    return `<tr><td><a href="${escapeHtml(href)}">${escapeHtml(i.name)}</a></td><td>${
      i.spec.persist ? "chunks" : "ring"
    }</td><td>${i.recordCount}</td><td>${escapeHtml(isoOf(i.lastTs))}</td></tr>`;
  }).join("\n");
  const body = infos.length
    ? `<table id="feeds"><thead><tr><th>feed</th><th>storage</th><th>records</th><th>newest</th></tr></thead>
<tbody>
${rows}
</tbody></table>`
    : `<p class="muted">No feeds in this data directory yet.</p>`;
  return page(
    "Deepwater feeds",
    `<header><h1>Deepwater</h1><span class="muted">feeds</span></header>
<main>
${body}
<p class="muted">JSON: <a href="/api/feeds">/api/feeds</a> · Prometheus: <a href="/metrics">/metrics</a> · <a href="/healthz">/healthz</a></p>
</main>`,
  );
}

/**
 * The page of one feed: a live chart of `field` and the newest records.
 *
 * @param feed the feed's name (already validated)
 * @param field the field to chart, or undefined to let the page pick one
 * @returns the HTML
 * @example
 * ```ts
 * import { feedPage } from "./page.ts";
 * console.assert(feedPage("trades", undefined).includes('data-feed="trades"'));
 * ```
 */
export function feedPage(feed: string, field: string | undefined): string {
  return page(
    `${feed} · Deepwater`,
    `<header><h1>${
      escapeHtml(feed)
    }</h1><a href="/">all feeds</a><span id="status">connecting…</span></header>
<main id="feed" data-feed="${escapeHtml(feed)}" data-field="${escapeHtml(field ?? "")}">
<div id="chart"></div>
<p class="muted" id="legend"></p>
<table id="records"><thead></thead><tbody></tbody></table>
</main>`,
    `<script src="${CHART_PATH}"></script>\n<script src="${SCRIPT_PATH}" defer></script>`,
  );
}

/**
 * The feed page's script (plain browser JavaScript). It loads the feed's
 * info, charts one numeric field (`?field=`, else `price`, `px` or `last`,
 * else the first numeric field other than the time column) as the last
 * value of each second, seeds chart and table with the last five minutes
 * up to the newest record, then follows the Server-Sent Events stream from
 * just after the last record it showed (`?from=`), so nothing is missed or
 * shown twice at the seam.
 * `window.deepwaterPage` exposes what it shows, for tests.
 */
export const PAGE_SCRIPT = `"use strict";
(async () => {
  const root = document.getElementById("feed");
  const status = document.getElementById("status");
  const feed = root.dataset.feed;
  const api = "/api/feeds/" + encodeURIComponent(feed);
  const ROWS = 25, WINDOW_US = 300e6, HISTORY = 5000;
  const state = { feed, field: "", points: 0, rows: 0, received: 0, lastTs: null, status: "connecting" };
  window.deepwaterPage = state;
  const setStatus = (s, cls) => { state.status = s; status.textContent = s; status.className = cls || ""; };
  const info = await (await fetch(api)).json();
  const names = info.layout.filter((f) => f.kind !== "pad").map((f) => f.name);
  const NUMERIC = /^(float|u?int)/;
  const numeric = info.layout.filter((f) => NUMERIC.test(f.kind) && f.name !== info.spec.ts_col).map((f) => f.name);
  const ts = info.spec.ts_col;
  const field = root.dataset.field || ["price", "px", "last"].find((n) => numeric.includes(n)) || numeric[0] || "";
  state.field = field;
  document.getElementById("legend").textContent = field
    ? "Chart: last " + field + " per second (UTC)."
    : "No numeric field to chart.";

  const chart = LightweightCharts.createChart(document.getElementById("chart"), {
    autoSize: true,
    layout: { background: { color: "#0f1419" }, textColor: "#d8dee9" },
    grid: { vertLines: { color: "#1b2533" }, horzLines: { color: "#1b2533" } },
    timeScale: { timeVisible: true, secondsVisible: true },
  });
  const series = chart.addSeries(LightweightCharts.LineSeries, { color: "#4fa3ff", lineWidth: 2 });
  let lastSec = -Infinity;
  const plot = (rec) => {
    const v = Number(rec[field]);
    const sec = Math.floor(Number(rec[ts]) / 1e6);
    if (!field || !Number.isFinite(v) || sec < lastSec) return;
    series.update({ time: sec, value: v });
    lastSec = sec;
    state.points = series.data().length;
  };

  const thead = document.querySelector("#records thead");
  const tbody = document.querySelector("#records tbody");
  const hr = document.createElement("tr");
  for (const n of ["time (UTC)", ...names]) {
    const th = document.createElement("th");
    th.textContent = n;
    hr.append(th);
  }
  thead.append(hr);
  const cell = (v) => {
    const td = document.createElement("td");
    td.textContent = typeof v === "number" && !Number.isInteger(v) ? String(+v.toPrecision(12)) : String(v);
    return td;
  };
  const show = (recs) => {
    for (const rec of recs.slice(-ROWS)) {
      const tr = document.createElement("tr");
      const us = Number(rec[ts]);
      tr.append(cell(new Date(Math.floor(us / 1000)).toISOString().replace("T", " ").replace("Z", "")));
      for (const n of names) tr.append(cell(rec[n]));
      tbody.prepend(tr);
    }
    while (tbody.rows.length > ROWS) tbody.deleteRow(-1);
    state.rows = tbody.rows.length;
  };
  // The newest record shown: its timestamp (state.lastTs) and how many shown records have it.
  let atLast = 0;
  const take = (recs) => {
    if (!recs.length) return;
    for (const rec of recs) {
      plot(rec);
      const t = Number(rec[ts]);
      if (t === state.lastTs) atLast++;
      else {
        state.lastTs = t;
        atLast = 1;
      }
    }
    show(recs);
    state.received += recs.length;
  };

  // History up to the newest record first; then the live stream from its
  // timestamp (from= replays from the first record at or after it), skipping
  // the records at that timestamp already shown: no gap and no duplicate at
  // the seam (in a feed written in time order). A reconnect resumes the same way.
  if (info.lastTs !== null) {
    const q = new URLSearchParams({ start: String(Math.max(0, info.lastTs - WINDOW_US)), end: String(info.lastTs), limit: String(HISTORY) });
    const text = await (await fetch(api + "/records?" + q)).text();
    take(text.split("\\n").filter((l) => l).map((l) => JSON.parse(l)));
  }
  chart.timeScale().fitContent();
  let ended = false;
  const connect = () => {
    let skip = state.lastTs === null ? 0 : atLast;
    const from = state.lastTs ?? info.lastTs ?? 0;
    const es = new EventSource(api + "/stream?from=" + from);
    es.addEventListener("open", () => setStatus("live", "live"));
    es.addEventListener("records", (e) => {
      let recs = JSON.parse(e.data);
      if (skip > 0) {
        const n = Math.min(skip, recs.length);
        recs = recs.slice(n);
        skip -= n;
      }
      take(recs);
    });
    es.addEventListener("overrun", (e) => setStatus("live (" + JSON.parse(e.data).lost + " records lost to overruns)", "live"));
    for (const kind of ["dropped", "error"]) {
      es.addEventListener(kind, (e) => {
        if (!(e instanceof MessageEvent)) return; // the connection's own error: below
        ended = true;
        setStatus(kind + ": " + JSON.parse(e.data).message, "failed");
        es.close();
      });
    }
    es.onerror = (e) => {
      if (e instanceof MessageEvent || ended) return;
      es.close();
      setStatus("reconnecting…", "");
      setTimeout(connect, 1000);
    };
  };
  connect();
})().catch((e) => {
  const status = document.getElementById("status");
  status.textContent = "failed: " + e;
  status.className = "failed";
});
`;
