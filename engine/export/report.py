"""The comparison report: one self-contained HTML file (no external resources).

It holds the runs' configs with the differences highlighted, the sortable final-metrics
table (click a header) and the key plots as embedded PNG images.
"""

from __future__ import annotations

import base64
import html
import math
from datetime import UTC, datetime
from typing import Any

from engine import __version__
from engine.compare.spec import flatten_config
from engine.export.table import final_table
from engine.session.record import Session

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em;color:#222;max-width:1400px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3;cursor:pointer;user-select:none}th.key,td.key{text-align:left;font-family:monospace}
tr.diff td{background:#fff3cd;font-weight:600}td.best{color:#006400;font-weight:700}
.swatch{display:inline-block;width:.9em;height:.9em;border-radius:2px;margin-right:.4em;vertical-align:middle}
figure{display:inline-block;margin:.5em;vertical-align:top}figcaption{text-align:center;font-size:.9em}
img{max-width:100%;border:1px solid #eee}
"""

# Sort the table whose header was clicked by that column (numbers numerically, empty last).
_JS = """
document.querySelectorAll('table.sortable th').forEach(function(th, col){
  th.addEventListener('click', function(){
    var table = th.closest('table'), body = table.tBodies[0];
    var asc = th.dataset.order !== 'asc'; th.dataset.order = asc ? 'asc' : 'desc';
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function(a, b){
      var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
      var nx = parseFloat(x), ny = parseFloat(y);
      if (x === '' && y !== '') return 1; if (y === '' && x !== '') return -1;
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
      return asc ? c : -c;
    });
    rows.forEach(function(r){ body.appendChild(r); });
  });
});
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _num(v: float) -> str:
    if not math.isfinite(v):
        return "–"
    return f"{v:.0f}" if float(v).is_integer() and abs(v) >= 1 else f"{v:.4g}"


def _config_section(session: Session, colors: list[str]) -> str:
    flats = [flatten_config(r.config) for r in session.runs]
    keys = sorted(set().union(*flats)) if flats else []
    diff = [k for k in keys if any(f.get(k) != flats[0].get(k) for f in flats[1:])]
    same = [k for k in keys if k not in diff]
    head = "".join(
        f"<th><span class='swatch' style='background:{_e(colors[i])}'></span>{_e(r.name)}</th>"
        for i, r in enumerate(session.runs)
    )

    def rows(ks: list[str], cls: str) -> str:
        return "".join(
            f"<tr class='{cls}'><td class='key'>{_e(k)}</td>"
            + "".join(f"<td>{_e(f.get(k))}</td>" for f in flats)
            + "</tr>"
            for k in ks
        )

    out = [
        f"<h2>Configurations</h2><p>{len(diff)} setting(s) differ between the runs (highlighted); "
        f"{len(same)} are shared.</p>",
        f"<table id='config-diff'><thead><tr><th class='key'>setting</th>{head}</tr></thead>"
        f"<tbody>{rows(diff, 'diff')}</tbody></table>",
    ]
    if same:
        out.append(
            f"<details><summary>shared settings ({len(same)})</summary><table id='config-shared'><thead>"
            f"<tr><th class='key'>setting</th>{head}</tr></thead><tbody>{rows(same, 'same')}</tbody>"
            "</table></details>"
        )
    return "".join(out)


def _metrics_section(session: Session, colors: list[str]) -> str:
    cols, rows = final_table(session)
    best: dict[str, float] = {}
    for key, _, higher in cols:
        vals = [r[key] for r in rows if math.isfinite(r[key])]
        if vals and key not in ("epochs", "steps", "best_val_loss_epoch"):
            best[key] = max(vals) if higher else min(vals)
    head = "<th class='key'>run</th><th class='key'>state</th>" + "".join(f"<th>{_e(h)}</th>" for _, h, _ in cols)
    body = []
    for i, r in enumerate(rows):
        cells = [
            f"<td class='key' data-v='{_e(r['name'])}'><span class='swatch' style='background:{_e(colors[i])}'>"
            f"</span>{_e(r['name'])}</td>",
            f"<td class='key' data-v='{_e(r['state'])}'>{_e(r['state'])}</td>",
        ]
        for key, _, _ in cols:
            v = r[key]
            cls = " class='best'" if key in best and math.isfinite(v) and v == best[key] else ""
            cells.append(f"<td{cls} data-v='{'' if not math.isfinite(v) else repr(float(v))}'>{_num(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        "<h2>Final metrics</h2><p>Click a column header to sort; the best value of each column is green.</p>"
        f"<table id='final-metrics' class='sortable'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def html_report(
    session: Session,
    images: list[tuple[str, bytes]] | None = None,
    colors: list[str] | None = None,
    title: str = "Descent comparison",
) -> str:
    """The report as one HTML string; `images` are (caption, PNG bytes), embedded as data URIs."""
    n = len(session.runs)
    colors = list(colors or [])
    colors += ["#555555"] * (n - len(colors))
    seeds = sorted({r.config.seed for r in session.runs})
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{_e(title)}</h1>",
        f"<p>{n} run(s); seed {', '.join(map(str, seeds))} "
        f"{'(shared: same initial weights and batch order where the model is the same)' if len(seeds) == 1 else ''}"
        f". Made by Descent {_e(__version__)} on {_e(stamp)}; session created {_e(session.created or 'now')}.</p>",
        _metrics_section(session, colors),
        _config_section(session, colors),
    ]
    if images:
        parts.append("<h2>Plots</h2>")
        for caption, png in images:
            data = base64.b64encode(png).decode("ascii")
            parts.append(
                f"<figure><img alt='{_e(caption)}' src='data:image/png;base64,{data}'>"
                f"<figcaption>{_e(caption)}</figcaption></figure>"
            )
    parts.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(parts)
