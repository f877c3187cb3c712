// baton serve: the Runs page refreshes its running runs from /api/v1/runs every
// two seconds while any is running. Text is set with textContent only.
"use strict";

(function () {
  const table = document.querySelector("table.runs[data-api]");
  if (!table) return;
  const api = table.getAttribute("data-api");
  const live = document.getElementById("live");

  function running() {
    return table.querySelectorAll("tr[data-status='running']").length > 0;
  }

  function duration(ms) {
    if (ms === null || ms === undefined) return "running";
    if (ms < 1000) return ms + "ms";
    if (ms < 60000) return (ms / 1000).toFixed(2) + "s";
    const m = Math.floor(ms / 60000);
    return m + "m" + Math.round((ms % 60000) / 1000) + "s";
  }

  function update(rows) {
    const byId = new Map(rows.map((r) => [r.run_id, r]));
    for (const tr of table.querySelectorAll("tr[data-run]")) {
      const row = byId.get(tr.getAttribute("data-run"));
      if (!row) continue;
      tr.setAttribute("data-status", row.status);
      const badge = tr.querySelector(".badge");
      if (badge) {
        badge.textContent = row.status;
        badge.className = "badge run-" + row.status;
      }
      const set = (name, value) => {
        const cell = tr.querySelector("[data-field='" + name + "']");
        if (cell) cell.textContent = String(value);
      };
      set("duration", duration(row.duration_ms));
      set("beats", row.beats);
      set("failed", row.failed);
      set("breaches", row.breaches);
    }
  }

  async function poll() {
    if (!running()) {
      if (live) live.hidden = true;
      return;
    }
    if (live) live.hidden = false;
    try {
      const response = await fetch(api, { headers: { Accept: "application/json" } });
      if (response.ok) update(await response.json());
    } catch (_) {
      // The server stopped: keep what is shown.
      return;
    }
    setTimeout(poll, 2000);
  }

  setTimeout(poll, 2000);
})();
