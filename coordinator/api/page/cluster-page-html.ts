import { CLUSTER_PAGE_CSS } from './cluster-page-css.js';
import { CLUSTER_PAGE_SCRIPT } from './cluster-page-script.js';

/**
 * The live cluster page served at `/`: server-sent HTML with one small script, no build step and no
 * framework, so a Pi can serve it. It holds no data itself: everything comes from /v1/events (the
 * cluster view, live) and /v1/classify, with the API key the operator types in (kept in the browser).
 */
export function clusterPageHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgerelay cluster</title>
<style>${CLUSTER_PAGE_CSS}</style>
</head>
<body>
<header>
  <h1>edgerelay</h1>
  <span class="meta" id="summary">connecting…</span>
  <label class="meta">API key <input id="api-key" type="password" size="14" autocomplete="off"></label>
  <span id="connection">connecting</span>
</header>
<main>
  <section class="wide">
    <h2>Classify a text</h2>
    <form id="classify"><textarea id="text" placeholder="Type a sentence…"></textarea><button type="submit">Classify</button></form>
    <div id="answer" class="muted">The answer shows here, with the agents that computed it.</div>
  </section>
  <section class="wide"><h2>Topology</h2><div id="topology" class="muted">no plan yet</div></section>
  <section class="wide"><h2>Agents</h2><table id="agents"></table></section>
  <section><h2>Per-stage compute (median of recent requests)</h2><div id="stage-latency"></div><div id="latency" class="muted"></div></section>
  <section><h2>Where requests exit</h2><div id="exits" class="muted">no requests yet</div></section>
  <section><h2>Links (measured)</h2><table id="links"></table></section>
  <section class="wide"><h2>Recent requests</h2><table id="recent"></table></section>
  <section class="wide"><h2>Calibration curves in use</h2><div id="calibration" class="muted">loading…</div></section>
</main>
<script>${CLUSTER_PAGE_SCRIPT}</script>
</body>
</html>
`;
}
