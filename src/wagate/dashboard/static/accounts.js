// The accounts page (/whatsapp): "Connect account" asks for the number, then shows
// the account's QR codes live (its event stream) until the phone scans one; cards
// turn "Online" as their accounts connect.
(function () {
  "use strict";
  const { request, watch } = window.wagate;
  const LABELS = {
    connected: "Online",
    qr: "Waiting for scan",
    pairing_code: "Waiting for code",
    pending: "Connecting",
    disconnected: "Offline, reconnecting",
    stopped: "Offline",
    logged_out: "Logged out",
    failed: "Failed",
  };

  function setCard(id, data) {
    const card = document.getElementById("account-" + id);
    if (!card || !data.state) return;
    card.setAttribute("data-state", data.state);
    const badge = card.querySelector("[data-account-status]");
    badge.className = "badge state-" + data.state;
    badge.textContent = LABELS[data.state] || data.state;
    if (data.phoneNumber) card.querySelector("[data-account-number]").textContent = "+" + data.phoneNumber;
  }

  // Every card follows its account's status.
  document.querySelectorAll("[data-account-card]").forEach((card) => {
    const id = card.getAttribute("data-account-id");
    watch(id, (event) => { if (event.type === "session.status") setCard(id, event.data || {}); });
  });

  const modal = document.querySelector("[data-account-modal]");
  if (!modal) return;
  const part = (name) => modal.querySelector("[data-" + name + "]");
  const form = part("account-form");
  const error = part("account-error");
  const image = part("account-qr");
  const wait = part("account-wait");
  const waitText = part("account-wait-text");
  let current = null; // {id, stream, timer}

  function step(name) {
    modal.querySelectorAll("[data-step]").forEach((section) => {
      section.hidden = section.getAttribute("data-step") !== name;
    });
  }

  function waiting(text) {
    image.hidden = true;
    wait.hidden = false;
    waitText.textContent = text;
  }

  function stop() {
    if (!current) return;
    clearTimeout(current.timer);
    if (current.stream) current.stream.close();
    current = null;
  }

  function open(number) {
    stop();
    error.hidden = true;
    form.reset();
    step("number");
    if (!modal.open) modal.showModal();
    const input = form.querySelector("input[name=phone_number]");
    if (number) input.value = "+" + number.replace(/^\+/, "");
    input.focus();
  }

  function onEvent(event) {
    const data = event.data || {};
    if (!current) return;
    if (event.type === "session.qr" && data.qrImage) {
      image.src = data.qrImage;
      image.hidden = false;
      wait.hidden = true;
    } else if (event.type === "session.status") {
      setCard(current.id, data);
      if (data.state === "connected") {
        part("account-done-text").textContent = data.phoneNumber
          ? "+" + data.phoneNumber + " is online." : "The account is online.";
        step("done");
        const id = current.id;
        current.timer = setTimeout(() => {
          modal.close();
          // A new account's card is not on the page yet.
          if (!document.getElementById("account-" + id)) location.reload();
        }, 1500);
      } else if (data.state === "failed") {
        waiting("Linking failed" + (data.reason ? " (" + data.reason.replace(/_/g, " ") + ")" : "") + ".");
      } else if (data.state === "disconnected" && data.reason === "qr_timeout") {
        waiting("The QR code expired; close this and connect again.");
      }
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    error.hidden = true;
    try {
      const answer = await request(form.action, { method: "POST", body: new FormData(form) });
      part("account-phone").textContent = form.querySelector("input[name=phone_number]").value;
      waiting("Preparing a QR code…");
      step("qr");
      current = { id: answer.accountId, stream: null, timer: null };
      current.stream = watch(answer.accountId, onEvent);
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  });

  modal.addEventListener("close", stop);
  part("close").addEventListener("click", () => modal.close());
  document.querySelector("[data-connect-account]").addEventListener("click", () => open(""));
  document.querySelectorAll("[data-reconnect]").forEach((button) => {
    button.addEventListener("click", () => open(button.getAttribute("data-reconnect")));
  });
})();
