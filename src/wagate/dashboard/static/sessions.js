// The sessions grid: cards that follow their session's live events, and the
// "Connect WhatsApp" QR modal that refreshes with each code and closes when linked.
(function () {
  "use strict";
  const { request, fragment, toElement, watch, localizeTimes } = window.wagate;
  const watchers = new Map();

  // -- live cards: re-rendered by the server whenever the session's state moves --
  async function refreshCard(id) {
    const card = document.getElementById("session-" + id);
    if (!card) return;
    let fresh;
    try {
      fresh = toElement(await fragment("/dashboard/sessions/" + id + "/card"));
    } catch (ignored) {
      return; // deleted meanwhile: the next reload drops it
    }
    if (!fresh) return;
    const changed = fresh.getAttribute("data-state") !== card.getAttribute("data-state");
    // Leave a card alone while its action menu is open; the next event catches up.
    if (card.querySelector("details.menu[open]")) return;
    card.replaceWith(fresh);
    localizeTimes(fresh);
    if (changed) {
      fresh.classList.add("flash-update");
      setTimeout(() => fresh.classList.remove("flash-update"), 1600);
    }
  }

  function watchCard(card) {
    const id = card.getAttribute("data-session-id");
    if (watchers.has(id)) return;
    watchers.set(id, watch(id, (event) => {
      if (event.type !== "session.status") return;
      const current = document.getElementById("session-" + id);
      if (current && current.getAttribute("data-state") === event.data.state) return;
      refreshCard(id);
    }));
  }
  document.querySelectorAll("[data-session-card]").forEach(watchCard);

  // -- the QR modal -------------------------------------------------------------
  const modal = document.querySelector("[data-qr-modal]");
  if (!modal) return;
  const part = (name) => modal.querySelector("[data-" + name + "]");
  const image = part("qr-image");
  const wait = part("qr-wait");
  const waitText = part("qr-wait-text");
  const status = part("qr-status");
  const retry = part("qr-retry");
  const done = part("qr-done");
  const pairingForm = part("pairing-form");
  const pairingCode = part("pairing-code");
  let current = null; // {id, stream, restarted, closeTimer}

  function selectTab(name) {
    modal.querySelectorAll("[data-tab-button]").forEach((tab) => {
      tab.setAttribute("aria-selected", String(tab.getAttribute("data-tab-button") === name));
    });
    modal.querySelectorAll("[data-tab-panel]").forEach((panel) => {
      panel.hidden = panel.getAttribute("data-tab-panel") !== name;
    });
  }

  function waiting(text) {
    image.hidden = true;
    wait.hidden = false;
    waitText.textContent = text;
  }

  async function startAttempt() {
    if (!current) return;
    retry.hidden = true;
    waiting("Preparing a new QR code…");
    try {
      const answer = await request("/dashboard/sessions/" + current.id + "/link", { method: "POST" });
      if (!answer.started && answer.state === "disconnected") {
        waiting("This session is linked and reconnecting by itself.");
      }
    } catch (error) {
      status.textContent = error.message;
    }
  }

  function onEvent(event) {
    if (!current) return;
    const data = event.data || {};
    if (event.type === "session.qr" && data.qrImage) {
      image.src = data.qrImage;
      image.hidden = false;
      wait.hidden = true;
      retry.hidden = true;
      status.textContent = "The code changes every few seconds until it is scanned.";
    } else if (event.type === "session.pairing_code" && data.pairingCode) {
      showPairingCode(data.pairingCode);
    } else if (event.type === "session.status") {
      onStatus(data);
    }
  }

  function onStatus(data) {
    const state = data.state;
    if (state === "connected") {
      modal.querySelectorAll("[data-tab-panel], .tabs").forEach((el) => { el.hidden = true; });
      done.hidden = false;
      part("qr-done-text").textContent = data.phoneNumber
        ? "Connected as +" + data.phoneNumber + "." : "The session is connected.";
      const id = current.id;
      current.closeTimer = setTimeout(closeModal, 1800);
      refreshCard(id);
    } else if (state === "pending") {
      waiting("Preparing a QR code…");
    } else if (state === "failed") {
      waiting("This session failed" + (data.reason ? " (" + data.reason.replace(/_/g, " ") + ")" : "") +
        ". Delete it and connect again.");
    } else if (state === "disconnected" || state === "logged_out") {
      if (!current.restarted) {
        // The last attempt had ended when the modal opened: begin a new one at once.
        current.restarted = true;
        startAttempt();
      } else {
        waiting(data.reason === "qr_timeout" ? "The QR code expired." : "The link attempt ended.");
        retry.hidden = false;
      }
    }
  }

  function showPairingCode(code) {
    pairingCode.textContent = code.length === 8 ? code.slice(0, 4) + "-" + code.slice(4) : code;
    pairingCode.hidden = false;
  }

  function openModal(id, name) {
    closeStream();
    current = { id, stream: null, restarted: false, closeTimer: null };
    part("qr-name").textContent = name || "WhatsApp";
    modal.querySelectorAll("[data-tab-panel], .tabs").forEach((el) => { el.hidden = false; });
    done.hidden = true;
    retry.hidden = true;
    pairingCode.hidden = true;
    image.removeAttribute("src");
    waiting("Preparing a QR code…");
    status.textContent = "The code changes every few seconds until it is scanned.";
    pairingForm.action = "/dashboard/sessions/" + id + "/pairing-code";
    selectTab("qr");
    if (!modal.open) modal.showModal();
    current.stream = watch(id, onEvent);
  }

  function closeStream() {
    if (!current) return;
    clearTimeout(current.closeTimer);
    if (current.stream) current.stream.close();
    current = null;
  }

  function closeModal() {
    closeStream();
    if (modal.open) modal.close();
  }

  modal.addEventListener("close", closeStream);
  part("close").addEventListener("click", closeModal);
  retry.addEventListener("click", startAttempt);
  modal.querySelectorAll("[data-tab-button]").forEach((tab) => {
    tab.addEventListener("click", () => selectTab(tab.getAttribute("data-tab-button")));
  });

  pairingForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!current) return;
    const button = pairingForm.querySelector("button");
    button.disabled = true;
    try {
      const data = await request(pairingForm.action, { method: "POST", body: new FormData(pairingForm) });
      showPairingCode(data.code);
    } catch (error) {
      pairingCode.hidden = false;
      pairingCode.textContent = error.message;
    } finally {
      button.disabled = false;
    }
  });

  document.addEventListener("click", (event) => {
    const link = event.target.closest("[data-open-qr]");
    if (!link) return;
    const card = link.closest("[data-session-card]");
    if (!card) return;
    event.preventDefault();
    openModal(card.getAttribute("data-session-id"), card.getAttribute("data-name"));
  });

  // Just created: the modal opens by itself.
  const created = document.body.getAttribute("data-open-qr-for");
  if (created) {
    const card = document.getElementById("session-" + created);
    openModal(created, card ? card.getAttribute("data-name") : "");
  }
})();
