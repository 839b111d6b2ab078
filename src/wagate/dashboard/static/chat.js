// A session's conversations, live: new messages appear, ticks move, and the
// composer sends text or a file without leaving the page.
(function () {
  "use strict";
  const { request, fragment, watch, localizeTimes, randomId, liveToken } = window.wagate;
  const messenger = document.querySelector("[data-messenger]");
  if (!messenger) return;
  const sessionId = messenger.getAttribute("data-session-id");
  const activeJid = messenger.getAttribute("data-active-jid");
  const labels = JSON.parse(messenger.getAttribute("data-state-labels") || "{}");
  const conversation = document.querySelector("[data-conversation]");
  const listContainer = document.querySelector("[data-chat-list-container]");
  const base = "/dashboard/sessions/" + encodeURIComponent(sessionId);
  const RANK = { queued: 0, sent: 1, delivered: 2, read: 3, played: 4, failed: 9 };

  function nearBottom() {
    return !conversation || conversation.scrollHeight - conversation.scrollTop - conversation.clientHeight < 120;
  }
  function toBottom() {
    if (conversation) conversation.scrollTop = conversation.scrollHeight;
  }

  // Many events in a burst (a send moves through three statuses) cost one fetch.
  function debounced(task, wait) {
    let timer = null;
    return () => {
      clearTimeout(timer);
      timer = setTimeout(task, wait);
    };
  }

  const refreshConversation = debounced(async () => {
    if (!conversation || !activeJid) return;
    const stick = nearBottom();
    const known = new Set(Array.from(conversation.querySelectorAll("[data-message-id]"), (row) => row.getAttribute("data-message-id")));
    let markup;
    try {
      markup = await fragment(base + "/chats/" + encodeURIComponent(activeJid) + "/messages");
    } catch (ignored) {
      return;
    }
    conversation.innerHTML = markup;
    conversation.querySelectorAll("[data-message-id]").forEach((row) => {
      if (known.size && !known.has(row.getAttribute("data-message-id"))) row.classList.add("new");
    });
    localizeTimes(conversation);
    if (stick) toBottom();
  }, 120);

  const refreshList = debounced(async () => {
    if (!listContainer) return;
    try {
      listContainer.innerHTML = await fragment(base + "/chat-list" + (activeJid ? "?active=" + encodeURIComponent(activeJid) : ""));
    } catch (ignored) {
      return;
    }
    localizeTimes(listContainer);
  }, 250);

  // A status moves one tick in place; one for a message not shown yet redraws.
  function moveTicks(messageId, status) {
    const row = conversation && conversation.querySelector('[data-message-id="' + CSS.escape(messageId) + '"]');
    if (!row) return false;
    const before = row.getAttribute("data-status");
    if (before === "failed" || (RANK[status] !== undefined && RANK[status] <= RANK[before])) return true;
    const tick = document.querySelector("#tick-templates").content.querySelector(".ticks-" + status);
    const old = row.querySelector("[data-ticks]");
    if (tick && old) old.replaceWith(tick.cloneNode(true));
    row.setAttribute("data-status", status);
    if (status === "failed") refreshConversation(); // shows the reason
    return true;
  }

  // Reading a chat here is reading it on the phone: the API's mark-read sends the
  // read receipts (the sender sees blue ticks) and clears the unread count.
  let connected = false;
  let unreadArrived = false;
  const markRead = debounced(async () => {
    if (!activeJid || !connected || document.visibilityState !== "visible") return;
    const item = listContainer && listContainer.querySelector('[data-chat-jid="' + CSS.escape(activeJid) + '"] .unread');
    if (!item && !unreadArrived) return;
    unreadArrived = false;
    try {
      const token = await liveToken(false);
      const url = "/api/v1/chats/" + encodeURIComponent(activeJid) + "/read?sessionId=" + encodeURIComponent(sessionId);
      const response = await fetch(url, { method: "POST", headers: { Authorization: "Bearer " + token, Accept: "application/json" } });
      if (response.ok) refreshList();
    } catch (ignored) {
      // the next message tries again
    }
  }, 400);
  document.addEventListener("visibilitychange", markRead);

  function showState(data) {
    connected = data.state === "connected";
    markRead();
    const badge = messenger.querySelector("[data-state-badge]");
    if (badge) {
      badge.className = "badge state-" + data.state;
      badge.textContent = labels[data.state] || data.state;
    }
    const notice = document.querySelector("[data-offline-notice]");
    if (notice) notice.hidden = data.state === "connected";
  }

  watch(sessionId, (event) => {
    const data = event.data || {};
    if (event.type === "session.status") {
      showState(data);
    } else if (event.type === "message.received") {
      if (data.chat === activeJid) {
        unreadArrived = true;
        refreshConversation();
        markRead();
      }
      refreshList();
    } else if (event.type === "message.status") {
      if (data.chat === activeJid && !moveTicks(data.messageId, data.status)) refreshConversation();
      refreshList();
    } else if (event.type === "message.edited" || event.type === "message.revoked") {
      refreshConversation();
    }
  });

  // -- the composer -------------------------------------------------------------
  const composer = document.querySelector("[data-composer]");
  if (!composer) {
    return;
  }
  const text = composer.querySelector("[data-composer-text]");
  const fileInput = composer.querySelector("[data-file-input]");
  const fileName = composer.querySelector("[data-file-name]");
  const sendButton = composer.querySelector("[data-send]");
  const error = document.querySelector("[data-composer-error]");
  const idempotency = composer.querySelector("[data-idempotency]");
  idempotency.value = randomId();

  function grow() {
    text.style.height = "auto";
    text.style.height = Math.min(text.scrollHeight, 140) + "px";
  }
  text.addEventListener("input", grow);
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  fileInput.addEventListener("change", () => {
    const file = fileInput.files[0];
    fileName.hidden = !file;
    fileName.textContent = file ? "📎 " + file.name : "";
    text.placeholder = file ? "Add a caption" : "Type a message";
  });

  composer.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!text.value.trim() && !fileInput.files.length) return;
    sendButton.disabled = true;
    error.hidden = true;
    try {
      await request(composer.action, { method: "POST", body: new FormData(composer) });
      text.value = "";
      fileInput.value = "";
      fileName.hidden = true;
      text.placeholder = "Type a message";
      idempotency.value = randomId(); // the next message is a new one
      grow();
      refreshConversation();
      refreshList();
      setTimeout(toBottom, 300);
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
    } finally {
      sendButton.disabled = false;
      text.focus();
    }
  });

  toBottom();
})();
