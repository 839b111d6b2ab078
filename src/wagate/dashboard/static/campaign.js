// A campaign's page: counts, progress and rates polled once a second while it
// may still move, and its delivery and read rates over time drawn as an SVG chart.
(function () {
  "use strict";
  const box = document.querySelector("[data-campaign-live]");
  if (!box) return;
  const chart = document.querySelector("[data-rate-chart]");
  const SVG = "http://www.w3.org/2000/svg";
  const FINAL = ["completed", "cancelled"];
  const W = 600;
  const H = 220;
  const PAD = { left: 44, right: 12, top: 12, bottom: 28 };

  function el(name, attrs, text) {
    const node = document.createElementNS(SVG, name);
    Object.entries(attrs).forEach(([key, val]) => node.setAttribute(key, String(val)));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function draw(points) {
    if (!chart) return;
    const parts = [];
    const x0 = PAD.left;
    const x1 = W - PAD.right;
    const y0 = H - PAD.bottom;
    const y1 = PAD.top;
    [0, 25, 50, 75, 100].forEach((pct) => {
      const y = y0 - ((y0 - y1) * pct) / 100;
      parts.push(el("line", { x1: x0, x2: x1, y1: y, y2: y, class: "grid-line" }));
      parts.push(el("text", { x: x0 - 6, y: y + 4, class: "axis", "text-anchor": "end" }, pct + "%"));
    });
    if (points.length) {
      const first = Date.parse(points[0].at);
      const last = Date.parse(points[points.length - 1].at);
      const span = Math.max(1, last - first);
      const xy = (p, key) => {
        const x = x0 + ((x1 - x0) * (Date.parse(p.at) - first)) / span;
        const y = y0 - (y0 - y1) * p[key];
        return x.toFixed(1) + "," + y.toFixed(1);
      };
      // Rates mean something once a message has left.
      const shown = points.filter((p) => p.sent + p.failed > 0);
      [["deliveryRate", "line sent"], ["readRate", "line received"]].forEach(([key, cls]) => {
        if (shown.length) parts.push(el("polyline", { points: shown.map((p) => xy(p, key)).join(" "), class: cls }));
      });
      const seconds = Math.round(span / 1000);
      parts.push(el("text", { x: x0, y: H - 8, class: "axis" }, "start"));
      parts.push(el("text", { x: x1, y: H - 8, class: "axis", "text-anchor": "end" },
        seconds < 120 ? "+" + seconds + " s" : "+" + Math.round(seconds / 60) + " min"));
    }
    chart.replaceChildren(...parts);
  }

  function apply(data) {
    box.setAttribute("data-state", data.state);
    const badge = document.querySelector("[data-campaign-state]");
    if (badge) {
      badge.setAttribute("data-campaign-state", data.state);
      badge.textContent = data.state;
      badge.className = "badge campaign-" + data.state;
    }
    box.querySelector("[data-progress-bar]").value = data.percent;
    box.querySelector("[data-percent]").textContent = data.percent + "%";
    box.querySelectorAll("[data-count]").forEach((node) => {
      const key = node.getAttribute("data-count");
      if (key in data) node.textContent = String(data[key]);
    });
    [["delivery", data.deliveryRate], ["read", data.readRate]].forEach(([key, rate]) => {
      const label = document.querySelector("[data-rate='" + key + "']");
      if (label) label.textContent = (Math.round(rate * 1000) / 10) + "%";
      const bar = document.querySelector("[data-rate-bar='" + key + "']");
      if (bar) bar.setAttribute("width", String(Math.round(rate * 400)));
    });
    draw(data.timeline);
  }

  async function tick() {
    let data = null;
    try {
      data = await window.wagate.request(box.getAttribute("data-src"));
    } catch (ignored) {
      data = null;
    }
    if (data) {
      apply(data);
      if (FINAL.includes(data.state)) {
        box.setAttribute("data-live", "false");
        document.querySelectorAll(".head-actions form").forEach((form) => form.remove());
        return;
      }
    }
    setTimeout(tick, 1000);
  }
  if (box.getAttribute("data-live") === "true") tick();
  else window.wagate.request(box.getAttribute("data-src")).then(apply).catch(() => {});
})();
