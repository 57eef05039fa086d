import puppeteer from 'puppeteer-core';
import { startSimCluster } from '../sim/index.js';
import { chromiumPath } from '../test/helpers/browser.js';
import { busyWarning, machineLoad, pairedRatio } from './busy.js';
import { interleaved, median } from './stats.js';

const FIXTURE = '../shared/fixtures/sst2-bert-6L-256H';

async function get(url: string): Promise<number> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return (await res.arrayBuffer()).byteLength;
}

/**
 * What the operator's views cost: a /metrics scrape (which asks every agent for its counters over the
 * data plane) against a /healthz round trip, interleaved; the exposition's size; and the cluster page's
 * load to a live topology in headless Chromium, against loading /healthz in the same browser.
 */
export async function benchOperator(args: { rounds: number; model?: string }): Promise<void> {
  const loads = [machineLoad()];
  const cluster = await startSimCluster({ model: args.model ?? FIXTURE, agents: 3, threads: 1, logLevel: 'error' });
  try {
    for (let i = 0; i < 30; i++) {
      await fetch(`${cluster.url}/v1/classify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: `a text of request ${i}` }),
      });
    }
    const size = await get(`${cluster.url}/metrics`);
    const scrape = await interleaved(
      { healthz: () => get(`${cluster.url}/healthz`), metrics: () => get(`${cluster.url}/metrics`) },
      args.rounds,
    );
    const ratio = pairedRatio(scrape.metrics!, scrape.healthz!);
    process.stdout.write(
      `operator views on a 3-agent simulated cluster, ${args.rounds} interleaved rounds\n\n` +
        `/metrics: ${size.toLocaleString('en-US')} bytes; scrape ${median(scrape.metrics!).toFixed(1)} ms vs /healthz ${median(scrape.healthz!).toFixed(1)} ms: ` +
        `ratio ${ratio.median.toFixed(2)} (p10-p90 ${ratio.p10.toFixed(2)}-${ratio.p90.toFixed(2)})\n`,
    );
    const executablePath = chromiumPath();
    if (!executablePath) {
      process.stdout.write("cluster page: skipped, no Chromium (install Debian's chromium package)\n");
      return;
    }
    const browser = await puppeteer.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      const pageLoad = await interleaved(
        {
          healthz: () => page.goto(`${cluster.url}/healthz`, { waitUntil: 'load' }),
          page: async () => {
            await page.goto(cluster.url, { waitUntil: 'domcontentloaded' });
            await page.waitForSelector('#agents tr[data-agent="agent-2"] .state', { timeout: 20_000 });
          },
        },
        args.rounds,
      );
      const r = pairedRatio(pageLoad.page!, pageLoad.healthz!);
      process.stdout.write(
        `cluster page to a live topology: ${median(pageLoad.page!).toFixed(1)} ms vs /healthz in the same browser ${median(pageLoad.healthz!).toFixed(1)} ms: ` +
          `ratio ${r.median.toFixed(2)} (p10-p90 ${r.p10.toFixed(2)}-${r.p90.toFixed(2)})\n`,
      );
    } finally {
      await browser.close();
    }
  } finally {
    loads.push(machineLoad());
    await cluster.stop();
    process.stdout.write(busyWarning(loads));
  }
}
