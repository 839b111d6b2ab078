// wagate dashboard: what every page shares. Plain JavaScript, no framework, no build.
// Pages work without it; it adds live updates, copy buttons and a few conveniences.
(function () {
  "use strict";

  const csrfToken = () => {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  };

  // A JSON call to the dashboard: the CSRF header on every unsafe method, and the
  // error envelope's message as the thrown error.
  async function request(url, options) {
    const opts = Object.assign({ method: "GET" }, options || {});
    const headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
    if (opts.method !== "GET") headers["X-CSRF-Token"] = csrfToken();
    const response = await fetch(url, Object.assign({}, opts, { headers, credentials: "same-origin" }));
    let body = null;
    try {
      body = await response.json();
    } catch (ignored) {
      body = null;
    }
    if (!response.ok) {
      const message = body && body.error ? body.error.message : "Request failed (" + response.status + ")";
      const error = new Error(message);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  // A server-rendered fragment (a card, a chat list, bubbles).
  async function fragment(url) {
    const response = await fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" });
    if (!response.ok) throw new Error("Could not refresh (" + response.status + ")");
    return response.text();
  }

  function toElement(markup) {
    const template = document.createElement("template");
    template.innerHTML = markup.trim();
    return template.content.firstElementChild;
  }

  // The login cookie is HttpOnly, so scripts ask for a short-lived token for the
  // WebSocket and the sandbox API, and ask again before it runs out.
  let token = null;
  let tokenExpires = 0;
  async function liveToken(fresh) {
    if (!fresh && token && Date.now() < tokenExpires) return token;
    const data = await request("/dashboard/live-token");
    token = data.token;
    tokenExpires = Date.now() + Math.max(30, data.expiresIn - 60) * 1000;
    return token;
  }

  // A session's live events ({type, data}); reconnects with backoff until closed.
  function watch(sessionId, onEvent) {
    let socket = null;
    let closed = false;
    let attempt = 0;
    let timer = null;
    const schedule = () => {
      attempt += 1;
      const delay = Math.min(15000, 400 * 2 ** attempt) * (0.5 + Math.random() / 2);
      timer = setTimeout(connect, delay);
    };
    async function connect() {
      if (closed) return;
      let value;
      try {
        value = await liveToken(attempt > 0);
      } catch (ignored) {
        schedule();
        return;
      }
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const url = scheme + "//" + location.host + "/api/v1/sessions/" + encodeURIComponent(sessionId) +
        "/events?token=" + encodeURIComponent(value);
      socket = new WebSocket(url);
      socket.onopen = () => { attempt = 0; };
      socket.onmessage = (message) => {
        let event;
        try {
          event = JSON.parse(message.data);
        } catch (ignored) {
          return;
        }
        onEvent(event);
      };
      socket.onclose = (close) => {
        socket = null;
        if (closed || close.code === 4404) return; // deleted, or not ours: nothing to wait for
        schedule();
      };
    }
    connect();
    return {
      close() {
        closed = true;
        clearTimeout(timer);
        if (socket) socket.close(1000);
      },
    };
  }

  // -- times: shown in the reader's zone and language, "5 min ago" style ------
  const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  function ago(date) {
    const seconds = (date.getTime() - Date.now()) / 1000;
    const steps = [[60, "second"], [3600, "minute"], [86400, "hour"], [604800, "day"]];
    if (Math.abs(seconds) < 45) return "just now";
    for (let i = 1; i < steps.length; i += 1) {
      if (Math.abs(seconds) < steps[i][0]) return relative.format(Math.round(seconds / steps[i - 1][0]), steps[i][1]);
    }
    return date.toLocaleDateString();
  }
  function localizeTimes(root) {
    const scope = root || document;
    const today = new Date().toDateString();
    scope.querySelectorAll("time[datetime]").forEach((element) => {
      const date = new Date(element.getAttribute("datetime"));
      if (Number.isNaN(date.getTime())) return;
      element.title = date.toLocaleString();
      if (element.hasAttribute("data-clock")) {
        element.textContent = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      } else if (element.hasAttribute("data-day")) {
        element.textContent = date.toDateString() === today ? "Today" : date.toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short" });
      } else if (element.hasAttribute("data-short")) {
        element.textContent = date.toDateString() === today
          ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
          : date.toLocaleDateString();
      } else if (element.hasAttribute("data-relative")) {
        element.textContent = ago(date);
      }
    });
  }

  // -- small conveniences ------------------------------------------------------
  async function copy(button) {
    const text = button.getAttribute("data-copy");
    const label = button.querySelector("span");
    try {
      await navigator.clipboard.writeText(text);
      if (label) label.textContent = "Copied";
    } catch (ignored) {
      // No clipboard (a plain-http page): select the text for Ctrl+C instead.
      const code = button.parentElement.querySelector("code");
      if (code) window.getSelection().selectAllChildren(code);
      if (label) label.textContent = "Press Ctrl+C";
    }
    setTimeout(() => { if (label) label.textContent = "Copy"; }, 2000);
  }

  function randomId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy]");
    if (button) {
      event.preventDefault();
      copy(button);
    }
    // A click anywhere else closes an open action menu.
    document.querySelectorAll("details.menu[open]").forEach((menu) => {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
  });

  // A delivery log follows its deliveries while any is on its way, and for a
  // little while after the page opens (a test event's delivery is made just after).
  function followDeliveries() {
    const box = document.querySelector("[data-deliveries]");
    if (!box) return;
    const opened = Date.now();
    const tick = async () => {
      const body = box.querySelector("[data-deliveries-body]");
      const pending = body && body.getAttribute("data-pending") === "true";
      if (!pending && Date.now() - opened > 30000) return;
      if (document.visibilityState !== "hidden") {
        try {
          box.innerHTML = await fragment(box.getAttribute("data-src"));
          localizeTimes(box);
        } catch (ignored) {
          // try again on the next tick
        }
      }
      setTimeout(tick, 2000);
    };
    setTimeout(tick, 1500);
  }

  document.addEventListener("DOMContentLoaded", () => {
    followDeliveries();
    localizeTimes(document);
    setInterval(() => localizeTimes(document), 30000);
    // A page that showed a secret after a POST: reloading it must not post again.
    const replace = document.body.getAttribute("data-replace-url");
    if (replace) history.replaceState(null, "", replace);
  });

  window.wagate = { request, fragment, toElement, liveToken, watch, localizeTimes, randomId, csrfToken };
})();
