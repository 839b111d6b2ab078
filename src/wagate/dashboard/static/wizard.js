// The campaign wizard: one step at a time (template → audience → accounts →
// pacing → schedule → review), each checked before the next; the review sums it
// all up with the template rendered for the first contact. Without JavaScript
// the same form shows every step at once.
(function () {
  "use strict";
  const form = document.querySelector("[data-wizard]");
  if (!form) return;
  const steps = Array.from(form.querySelectorAll("[data-step]"));
  const labels = Array.from(form.querySelectorAll("[data-step-label]"));
  const nav = form.querySelector("[data-wizard-nav]");
  const back = nav.querySelector("[data-back]");
  const next = nav.querySelector("[data-next]");
  const error = nav.querySelector("[data-wizard-error]");
  let index = 0;

  const value = (name) => {
    const field = form.elements.namedItem(name);
    return field ? field.value : "";
  };
  const checked = (name) => Array.from(form.querySelectorAll("input[name='" + name + "']:checked"));

  function show(target) {
    index = target;
    steps.forEach((step, i) => { step.hidden = i !== index; });
    labels.forEach((label, i) => {
      label.classList.toggle("current", i === index);
      label.classList.toggle("done", i < index);
    });
    back.disabled = index === 0;
    next.hidden = index === steps.length - 1;
    error.hidden = true;
    form.setAttribute("data-current-step", steps[index].getAttribute("data-step"));
    if (steps[index].getAttribute("data-step") === "review") review();
  }

  function problem() {
    const step = steps[index];
    for (const field of step.querySelectorAll("input, select, textarea")) {
      if (!field.checkValidity()) {
        field.reportValidity();
        return field.validationMessage || "Check this step";
      }
    }
    const name = step.getAttribute("data-step");
    if (name === "audience" && !checked("tags").length && !checked("contact_ids").length &&
        !(form.querySelector("[data-audience-file]").files || []).length) {
      return "Choose a tag, some contacts, or a CSV file";
    }
    if (name === "accounts" && !checked("session_ids").length) return "Choose at least one account";
    if (name === "schedule" && value("when") === "later" && !value("scheduled_at")) {
      return "Choose when it starts";
    }
    return null;
  }

  function review() {
    const template = checked("template_id")[0];
    const set = (key, text) => { form.querySelector("[data-review-" + key + "]").textContent = text; };
    set("name", value("name"));
    set("template", template ? template.closest("label").querySelector("strong").textContent : "");
    const parts = [];
    const tags = checked("tags");
    if (tags.length) {
      const people = tags.reduce((sum, tag) => sum + Number(tag.getAttribute("data-count")), 0);
      parts.push("tags " + tags.map((t) => t.value).join(", ") + " (up to " + people + " contacts)");
    }
    if (checked("contact_ids").length) parts.push(checked("contact_ids").length + " contacts picked");
    const file = form.querySelector("[data-audience-file]").files[0];
    if (file) parts.push("the rows of " + file.name);
    set("audience", parts.join(" + "));
    set("accounts", checked("session_ids").map((box) => box.getAttribute("data-account-name")).join(", "));
    const rate = Number(value("rate_per_minute"));
    set("pacing", rate ? rate + " a minute per account, up to " + value("jitter_seconds") + " s extra" : "no pacing");
    const when = value("when");
    set("when", when === "now" ? "now" : when === "draft" ? "saved as a draft" : value("scheduled_at") + " " + value("time_zone"));
    form.querySelector("[data-launch]").textContent = when === "draft" ? "Save draft" : when === "later" ? "Schedule campaign" : "Start campaign";
    const preview = form.querySelector("[data-review-preview]");
    const body = new FormData();
    body.append("body", template ? template.getAttribute("data-template-body") : "");
    window.wagate.request("/dashboard/broadcasts/templates/preview", { method: "POST", body })
      .then((answer) => { preview.textContent = answer.text; preview.classList.remove("error"); })
      .catch((failure) => { preview.textContent = failure.message; preview.classList.add("error"); });
  }

  next.addEventListener("click", () => {
    const found = problem();
    if (found) {
      error.textContent = found;
      error.hidden = false;
      return;
    }
    show(Math.min(index + 1, steps.length - 1));
  });
  back.addEventListener("click", () => show(Math.max(index - 1, 0)));
  labels.forEach((label, i) => {
    label.addEventListener("click", () => { if (i < index) show(i); });
  });
  nav.hidden = false;
  form.classList.add("stepped");
  show(0);
})();
