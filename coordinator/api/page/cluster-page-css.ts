/** The cluster page's styles: plain CSS, no build step. */
export const CLUSTER_PAGE_CSS = `
:root { font-family: 'DejaVu Sans', system-ui, sans-serif; font-size: 14px; color: #1d2330; background: #f4f6f9; }
body { margin: 0; }
header { background: #1d2330; color: #fff; padding: 10px 18px; display: flex; gap: 18px; align-items: baseline; flex-wrap: wrap; }
header h1 { font-size: 18px; margin: 0; }
header .meta { opacity: 0.85; }
#connection { margin-left: auto; font-size: 12px; }
#connection.live { color: #7ee08a; }
#connection.lost { color: #ff8a80; }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 14px; padding: 14px; }
section { background: #fff; border-radius: 6px; box-shadow: 0 1px 3px rgba(0, 0, 0, 0.12); padding: 10px 14px; }
section.wide { grid-column: 1 / -1; }
h2 { font-size: 15px; margin: 4px 0 10px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #e6e9ef; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.state { font-weight: bold; padding: 1px 6px; border-radius: 3px; }
.state-serving { background: #d7f5dc; color: #1b6b2b; }
.state-loading { background: #fff3c4; color: #7a5b00; }
.state-standby { background: #e6e9ef; color: #444; }
.state-down { background: #ffd6d2; color: #a1160a; }
#topology { display: flex; gap: 10px; align-items: stretch; flex-wrap: wrap; }
.stage { border: 2px solid #3d5a98; border-radius: 6px; padding: 6px 10px; min-width: 150px; }
.stage .layers { font-weight: bold; color: #3d5a98; }
.stage .member { font-size: 12px; }
.arrow { align-self: center; font-size: 20px; color: #3d5a98; }
.bar { background: #3d5a98; height: 12px; border-radius: 2px; }
.bar-row { display: grid; grid-template-columns: 90px 1fr 70px; gap: 8px; align-items: center; margin: 3px 0; }
form { display: flex; gap: 8px; }
form textarea { flex: 1; min-height: 42px; font: inherit; }
button { font: inherit; padding: 4px 14px; }
#answer { margin-top: 8px; min-height: 20px; }
#calibration img { max-width: 100%; }
#answer .label { font-weight: bold; font-size: 16px; }
.error { color: #a1160a; }
.muted { color: #667; }
`;
