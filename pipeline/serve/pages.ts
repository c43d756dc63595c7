import type { Run } from './store.js';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

function seconds(ms: number | null): string {
  return ms === null ? '…' : `${(ms / 1000).toFixed(1)}s`;
}

function duration(run: Run): string {
  if (!run.startedAt) return '';
  const end = run.finishedAt ? Date.parse(run.finishedAt) : Date.now();
  return seconds(end - Date.parse(run.startedAt));
}

/** The runs' table rows, newest first: the page renders them, and polls for them again. */
export function runRows(runs: readonly Run[]): string {
  return runs
    .map((r) => {
      const steps = r.steps
        .map((s) => `<span class="step ${esc(s.status)}">${esc(s.name)} ${seconds(s.ms)}</span>`)
        .join(' ');
      const subject = r.message.split('\n')[0] ?? '';
      return `<tr class="run" data-run="${r.id}" data-status="${esc(r.status)}">
<td><a href="runs/${r.id}">${r.id}</a></td><td class="branch">${esc(r.branch)}</td>
<td class="commit"><code>${esc(r.commit.slice(0, 12))}</code></td><td class="message">${esc(subject)}</td>
<td class="status ${esc(r.status)}">${esc(r.status)}${r.attempt > 1 ? ' (retry)' : ''}</td>
<td class="steps">${steps}</td><td>${esc(duration(r))}</td>
<td>${r.startedAt ? `<a href="runs/${r.id}/log">log</a>` : ''}</td></tr>`;
    })
    .join('\n');
}

/** GET /: the status page; its script swaps in fresh rows every two seconds. */
export function statusPage(runs: readonly Run[], nonce: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sitepipe serve</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font: 14px system-ui, sans-serif; margin: 2em; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #ddd; vertical-align: top; }
.succeeded { color: #176d2c; } .failed { color: #b00020; } .running { color: #1a56a8; }
.interrupted, .cancelled { color: #8a6d00; } .step { white-space: nowrap; margin-right: .5em; }
.step.failed { font-weight: bold; }
</style></head>
<body><h1>sitepipe serve</h1>
<table><thead><tr><th>run</th><th>branch</th><th>commit</th><th>message</th><th>status</th><th>steps</th><th>time</th><th></th></tr></thead>
<tbody id="runs">
${runRows(runs)}
</tbody></table>
<script nonce="${nonce}">
setInterval(async () => {
  const response = await fetch('runs?format=rows', { cache: 'no-store' }).catch(() => null);
  if (response && response.ok) document.getElementById('runs').innerHTML = await response.text();
}, 2000);
</script>
</body></html>
`;
}
