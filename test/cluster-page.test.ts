import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import puppeteer, { type Browser, type Page } from 'puppeteer-core';

import { calibrateRuns, collectWithModel, parseTarget, writeCalibration } from '../coordinator/calibration/index.js';
import { readTextExamples } from '../coordinator/datasets/index.js';
import { startSimCluster, type SimCluster } from '../sim/index.js';
import { chromiumPath } from './helpers/browser.js';
import { FIXTURE_DEV, FIXTURE_DIR } from './helpers/fixture.js';
import { writePlan } from './helpers/plans.js';

const API_KEY = 'page-test-key';
const TEXT = 'a gorgeous , witty , seductive movie .';

describe('the live cluster page at / in a real headless Chromium', function () {
  this.timeout(240_000);
  let cluster: SimCluster;
  let browser: Browser;
  let page: Page;
  let calibrationFile: string;
  const shots = mkdtempSync(path.join(tmpdir(), 'edgerelay-page-'));

  before(async function () {
    const executablePath = chromiumPath();
    if (!executablePath) {
      console.log('      skipped: no Chromium (npm test installs it through scripts/ensure-chromium.sh when root)');
      this.skip();
    }
    // A real calibration, on a few dev rows: the page shows its curves.
    const dev = readTextExamples(FIXTURE_DEV);
    const runs = await collectWithModel({ model: FIXTURE_DIR }, dev.texts.slice(0, 48), dev.labels?.slice(0, 48));
    calibrationFile = path.join(shots, 'calibration.json');
    writeCalibration(calibrationFile, calibrateRuns(runs, { target: parseTarget('accuracy-drop=0.01') }));
    cluster = await startSimCluster({
      model: FIXTURE_DIR,
      exitPolicy: 'calibrated',
      calibrationFile,
      agents: 2,
      threads: 1,
      logLevel: 'error',
      apiKey: API_KEY,
      planFile: writePlan({
        stages: [
          { layers: [0, 3], host: 'agent-0' },
          { layers: [3, 6], host: 'agent-1' },
        ],
      }),
    });
    // Root (CI) cannot use Chromium's sandbox.
    browser = await puppeteer.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 1000 });
    await page.evaluateOnNewDocument((key: string) => localStorage.setItem('edgerelay-api-key', key), API_KEY);
  });
  after(async function () {
    await browser?.close();
    await cluster?.stop();
    rmSync(shots, { recursive: true, force: true });
  });

  it('shows the topology and every agent serving, live', async function () {
    const started = performance.now();
    await page.goto(cluster.url, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#agents tr[data-agent="agent-1"] .state-serving', { timeout: 20_000 });
    console.log(`      page load to a live topology: ${(performance.now() - started).toFixed(0)} ms`);
    const stages = await page.$$eval('#topology .stage', (nodes) => nodes.map((n) => n.textContent));
    assert.equal(stages.length, 2);
    assert.match(stages[0]!, /layers 0–2.*host agent-0/);
    assert.match(stages[1]!, /layers 3–5.*host agent-1/);
    assert.match(await page.$eval('#connection', (n) => n.textContent ?? ''), /live/);
  });

  it('classifies a text typed into the box and names the agents that answered', async function () {
    const direct = await fetch(`${cluster.url}/v1/classify`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: TEXT }),
    });
    const [[expected]] = (await direct.json()) as { label: string }[][];
    await page.type('#text', TEXT);
    await page.click('#classify button');
    await page.waitForSelector('#answer-label', { timeout: 20_000 });
    assert.equal(await page.$eval('#answer-label', (n) => n.textContent), expected!.label);
    assert.match(await page.$eval('#answer-agents', (n) => n.textContent ?? ''), /agent-0/);
    // The live view picks the request up among the recent ones.
    await page.waitForFunction(() => document.querySelectorAll('#recent tr').length >= 3, { timeout: 10_000 });
  });

  it('shows the calibration curves the deployment uses, drawn by the plotting library', async function () {
    await page.waitForSelector('#calibration img', { timeout: 20_000 });
    const src = await page.$eval('#calibration img', (n) => (n as HTMLImageElement).src);
    const svg = decodeURIComponent(src.replace(/^data:image\/svg\+xml;charset=utf-8,/, ''));
    assert.match(svg, /^<svg /);
    const policy = cluster.coordinator.activePlan!.exit!.policy;
    assert.ok(svg.includes(`chosen ${policy}`), `the chart names the chosen policy ${policy}`);
    // The browser decoded and laid it out: it has a size.
    assert.ok((await page.$eval('#calibration img', (n) => (n as HTMLImageElement).naturalWidth)) > 300);
  });

  it('marks a killed agent down', async function () {
    cluster.agents[1]!.child.kill('SIGKILL');
    await page.waitForSelector('#agents tr[data-agent="agent-1"] .state-down', { timeout: 30_000 });
    const file = path.join(shots, 'cluster-page.png');
    await page.screenshot({ path: file, fullPage: true });
    assert.deepEqual([...readFileSync(file).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    if (process.env.EDGERELAY_UPDATE_SCREENSHOT)
      await page.screenshot({ path: 'docs/cluster-page.png', fullPage: true });
  });
});
