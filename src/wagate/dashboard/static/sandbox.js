// The sandbox phone simulator, on the /sandbox/v1 API: create virtual phones,
// scan a session's QR with one click, and chat from the phone's side.
(function () {
  "use strict";
  const { liveToken } = window.wagate;
  const root = document.querySelector("[data-sandbox]");
  if (!root) return;
  const $ = (selector) => root.querySelector(selector);
  const names = JSON.parse(root.getAttribute("data-session-names") || "{}");
  const errorBox = $("[data-sandbox-error]");
  const POLL_MS = 1500;
  let phones = [];
  let selected = null; // the phone's number
  let chat = null; // the open conversation's JID
  let messages = [];
  let rendered = "";
  const pictures = new Map(); // sha256 → object URL of the picture's bytes

  async function api(method, path, body, retried) {
    const token = await liveToken(Boolean(retried));
    const headers = { Accept: "application/json", Authorization: "Bearer " + token };
    const options = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    if (response.status === 401 && !retried) return api(method, path, body, true);
    let data = null;
    try {
      data = await response.json();
    } catch (ignored) {
      data = null;
    }
    if (!response.ok) throw new Error(data && data.error ? data.error.message : "Request failed (" + response.status + ")");
    return data ? data.data : null;
  }

  function showError(message) {
    errorBox.textContent = message || "";
    errorBox.hidden = !message;
  }

  function el(tag, className, text) {
    const element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined) element.textContent = text;
    return element;
  }

  const jidOf = (number) => number.replace(/[^0-9]/g, "") + "@s.whatsapp.net";
  const numberOf = (jid) => String(jid || "").split("@")[0];
  function chatLabel(jid) {
    const phone = phones.find((p) => p.jid === jid);
    if (phone) return (phone.name || "Phone") + " (+" + phone.number + ")";
    return jid.endsWith("@g.us") ? jid : "+" + numberOf(jid);
  }

  // -- phones --------------------------------------------------------------------
  async function loadPhones() {
    phones = (await api("GET", "/sandbox/v1/phones")).phones;
    const list = $("[data-phone-list]");
    list.replaceChildren();
    if (!phones.length) list.append(el("li", "muted small", "No phones yet."));
    phones.forEach((phone) => {
      const item = el("li");
      const button = el("button", "phone-item");
      button.type = "button";
      button.setAttribute("data-phone", phone.number);
      button.setAttribute("aria-pressed", String(phone.number === selected));
      const text = el("span");
      text.append(el("strong", "", phone.name || "Phone"), el("small", "", "+" + phone.number));
      const linked = (phone.linkedSessions || []).filter((s) => s.connected).length;
      const badge = el("span", "badge " + (linked ? "state-connected" : ""), linked ? "Linked" : "Not linked");
      button.append(el("span", "avatar small", (phone.name || "P").slice(0, 1).toUpperCase()), text, badge);
      button.addEventListener("click", () => select(phone.number));
      item.append(button);
      list.append(item);
    });
    const phone = phones.find((p) => p.number === selected);
    if (phone) showPhone(phone);
  }

  function showPhone(phone) {
    $("[data-phone-avatar]").textContent = (phone.name || "P").slice(0, 1).toUpperCase();
    $("[data-phone-name]").textContent = phone.name || "Phone";
    $("[data-phone-number]").textContent = "+" + phone.number;
    const linked = (phone.linkedSessions || []).map((s) => (names[s.sessionId] || "a session") + (s.connected ? "" : " (offline)"));
    const badge = $("[data-phone-links]");
    badge.textContent = linked.length ? "Linked to " + linked.join(", ") : "No linked device";
    badge.className = "badge " + (linked.length ? "state-connected" : "");
  }

  function select(number) {
    if (selected !== number) {
      selected = number;
      chat = null;
      messages = [];
      rendered = "";
      history.replaceState(null, "", "#" + number);
    }
    root.querySelectorAll("[data-phone]").forEach((b) => b.setAttribute("aria-pressed", String(b.getAttribute("data-phone") === number)));
    $("[data-phone-view]").hidden = false;
    document.querySelector("[data-phone-empty]").hidden = true;
    const phone = phones.find((p) => p.number === number);
    if (phone) showPhone(phone);
    refresh();
  }

  $("[data-create-phone]").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const data = new FormData(form);
    try {
      const phone = await api("POST", "/sandbox/v1/phones", {
        phone: String(data.get("phone")),
        name: String(data.get("name") || "") || null,
        autoRead: data.get("autoRead") === "on",
        autoReply: data.get("echo") === "on" ? "echo" : null,
      });
      form.reset();
      $("[data-add-phone]").removeAttribute("open");
      showError("");
      await loadPhones();
      select(phone.number);
    } catch (error) {
      showError(error.message);
    }
  });

  // -- linking: one click scans the QR a session shows right now -----------------
  async function refreshScanList() {
    const sessions = (await api("GET", "/sandbox/v1/sessions")).sessions;
    const waiting = sessions.filter((s) => s.state === "qr" && s.qr);
    if (waiting.some((s) => !names[s.sessionId])) await loadNames();
    const list = $("[data-scan-list]");
    list.replaceChildren();
    if (!waiting.length) {
      list.append(el("p", "muted small", "No session is showing a QR code. Press “Connect WhatsApp” on the Sessions page, then scan it here."));
      return;
    }
    const buttons = el("div", "scan-list");
    waiting.forEach((session) => {
      const button = el("button", "button primary small", "Scan QR of “" + (names[session.sessionId] || "new session") + "”");
      button.type = "button";
      button.setAttribute("data-scan", session.sessionId);
      button.addEventListener("click", () => scan(session.sessionId));
      buttons.append(button);
    });
    list.append(buttons);
  }

  async function loadNames() {
    const token = await liveToken(false);
    const response = await fetch("/api/v1/sessions", { headers: { Authorization: "Bearer " + token, Accept: "application/json" } });
    if (!response.ok) return;
    (await response.json()).data.sessions.forEach((s) => { names[s.session_id] = s.name; });
  }

  async function scan(sessionId) {
    try {
      // Read the code at the moment of the click: it rotates every few seconds.
      const sessions = (await api("GET", "/sandbox/v1/sessions")).sessions;
      const session = sessions.find((s) => s.sessionId === sessionId && s.qr);
      if (!session) throw new Error("That session is no longer showing a QR code");
      await api("POST", "/sandbox/v1/phones/" + selected + "/link", { qr: session.qr });
      showError("");
      await loadPhones();
      await refreshScanList();
    } catch (error) {
      showError(error.message);
    }
  }

  $("[data-pair-form]").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    try {
      await api("POST", "/sandbox/v1/phones/" + selected + "/pair", { code: String(new FormData(form).get("code")) });
      form.reset();
      showError("");
      await loadPhones();
    } catch (error) {
      showError(error.message);
    }
  });

  // -- the phone's conversations ---------------------------------------------------
  async function refreshMessages() {
    messages = (await api("GET", "/sandbox/v1/phones/" + selected + "/messages?limit=200")).messages;
    const chats = [];
    messages.forEach((m) => { if (!chats.includes(m.chat)) chats.push(m.chat); });
    if (!chat && chats.length) chat = chats[0];
    if (chat && !chats.includes(chat)) chats.unshift(chat);
    const select = $("[data-chat-select]");
    const options = chats.map((jid) => jid + "|" + chatLabel(jid)).join("\n");
    if (select.getAttribute("data-options") !== options) {
      select.replaceChildren(...chats.map((jid) => {
        const option = el("option", "", chatLabel(jid));
        option.value = jid;
        return option;
      }));
      if (!chats.length) select.append(el("option", "", "No conversations yet"));
      select.setAttribute("data-options", options);
    }
    if (chat) select.value = chat;
    renderConversation();
  }

  function renderConversation() {
    const shown = messages.filter((m) => m.chat === chat).reverse();
    const signature = shown.map((m) => m.messageId + ":" + m.status).join(",");
    if (signature === rendered) return;
    rendered = signature;
    const box = $("[data-phone-messages]");
    const stick = box.scrollHeight - box.scrollTop - box.clientHeight < 120;
    box.replaceChildren();
    if (!shown.length) box.append(el("p", "chat-empty muted", chat ? "No messages yet. Say hello!" : "Open a chat with a number above."));
    const ticks = document.querySelector("#tick-templates").content;
    shown.forEach((m) => {
      const row = el("div", "bubble-row " + (m.direction === "out" ? "out" : "in"));
      row.setAttribute("data-message-id", m.messageId);
      row.setAttribute("data-status", m.status);
      const bubble = el("div", "bubble");
      if (m.fromName && m.direction !== "out" && m.isGroup) bubble.append(el("div", "bubble-sender", m.fromName));
      const isPicture = Boolean(m.sha256) && /^image\//.test(m.mimetype || "");
      if (isPicture) bubble.append(picture(m.sha256));
      let body = m.text || m.caption || "";
      if (!body && !isPicture && m.type !== "text") body = m.filename ? "📎 " + m.filename : "[" + m.type + "]";
      if (body) bubble.append(el("div", "bubble-text", body));
      const meta = el("div", "bubble-meta");
      const time = new Date(m.timestampMs);
      meta.append(el("time", "", time.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })));
      if (m.direction === "out") {
        const tick = ticks.querySelector(".ticks-" + m.status);
        if (tick) meta.append(tick.cloneNode(true));
      }
      bubble.append(meta);
      row.append(bubble);
      box.append(row);
    });
    if (stick) box.scrollTop = box.scrollHeight;
    const unread = shown.filter((m) => m.direction === "in" && m.status !== "read");
    const markRead = $("[data-mark-read]");
    markRead.disabled = !unread.length;
    markRead.textContent = unread.length ? "Mark " + unread.length + " as read" : "All read";
  }

  // The sandbox serves media to a Bearer token only, so pictures come in by fetch.
  function picture(sha256) {
    const image = el("img", "bubble-media");
    image.alt = "Picture";
    const known = pictures.get(sha256);
    if (known) {
      image.src = known;
      return image;
    }
    liveToken(false)
      .then((token) => fetch("/sandbox/v1/media/" + sha256, { headers: { Authorization: "Bearer " + token } }))
      .then((response) => (response.ok ? response.blob() : null))
      .then((blob) => {
        if (!blob) return;
        const url = URL.createObjectURL(blob);
        pictures.set(sha256, url);
        image.src = url;
      })
      .catch(() => { image.alt = "Picture (could not load)"; });
    return image;
  }

  $("[data-chat-select]").addEventListener("change", (event) => {
    chat = event.target.value;
    renderConversation();
  });

  $("[data-new-chat]").addEventListener("submit", (event) => {
    event.preventDefault();
    const to = String(new FormData(event.target).get("to") || "");
    if (!to.replace(/[^0-9]/g, "")) return;
    chat = jidOf(to);
    event.target.reset();
    refreshMessages().catch((error) => showError(error.message));
  });

  $("[data-mark-read]").addEventListener("click", async () => {
    const ids = messages.filter((m) => m.chat === chat && m.direction === "in" && m.status !== "read").map((m) => m.messageId);
    if (!ids.length) return;
    try {
      await api("POST", "/sandbox/v1/phones/" + selected + "/read", { messageIds: ids });
      await refreshMessages();
    } catch (error) {
      showError(error.message);
    }
  });

  const composer = $("[data-phone-composer]");
  const text = composer.querySelector("textarea");
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  composer.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!chat || !text.value.trim()) return;
    try {
      await api("POST", "/sandbox/v1/phones/" + selected + "/messages", { to: chat, text: text.value.trim() });
      text.value = "";
      showError("");
      await refreshMessages();
    } catch (error) {
      showError(error.message);
    }
  });

  // -- polling: the sandbox has no event stream of its own for phones -------------
  let busy = false;
  async function refresh() {
    if (busy || !selected) return;
    busy = true;
    try {
      await Promise.all([refreshScanList(), refreshMessages()]);
    } catch (error) {
      showError(error.message);
    } finally {
      busy = false;
    }
  }
  let ticksSincePhones = 0;
  setInterval(() => {
    if (document.visibilityState === "hidden") return;
    refresh();
    ticksSincePhones += 1;
    if (ticksSincePhones >= 4) {
      ticksSincePhones = 0;
      loadPhones().catch((error) => showError(error.message));
    }
  }, POLL_MS);

  loadPhones().then(() => {
    const wanted = location.hash.slice(1);
    if (phones.some((p) => p.number === wanted)) select(wanted);
    else if (phones.length) select(phones[0].number);
  }).catch((error) => showError(error.message));
})();
