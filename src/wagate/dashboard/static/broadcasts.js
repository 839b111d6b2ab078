// Broadcasts: the campaign list follows running campaigns (fetched again every
// second), the template editor's live preview, and the contacts import with
// the upload's progress and then its report.
(function () {
  "use strict";
  const { request, fragment, toElement } = window.wagate;

  // -- the campaign list, while a campaign runs -------------------------------
  setInterval(async () => {
    const card = document.getElementById("campaigns");
    const url = card && card.dataset.refresh;
    if (!url || document.visibilityState === "hidden") return;
    try {
      const fresh = toElement(await fragment(url));
      if (fresh) card.replaceWith(fresh);
    } catch (ignored) {
      // try again on the next tick
    }
  }, 1000);

  // -- the template editor's live preview -------------------------------------
  // Rendered by the server as the first contact would get it; a missing
  // variable shows as the error that names it.
  document.querySelectorAll("textarea[data-preview]").forEach((editor) => {
    const output = document.getElementById(editor.dataset.preview);
    let timer = null;
    let asked = 0;
    const update = async () => {
      const ticket = ++asked;
      const form = new FormData();
      form.append("body", editor.value);
      try {
        const answer = await request("/dashboard/broadcasts/templates/preview", { method: "POST", body: form });
        if (ticket !== asked) return; // a newer keystroke's answer is on its way
        output.textContent = answer.text;
        output.classList.remove("error");
      } catch (error) {
        if (ticket !== asked) return;
        output.textContent = error.message;
        output.classList.add("error");
      }
    };
    editor.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(update, 250);
    });
    if (editor.value.trim()) update();
  });

  // -- the contacts import: upload progress, then the report --------------------
  const importForm = document.querySelector("[data-import-form]");
  if (importForm) {
    const box = importForm.querySelector("[data-import-progress]");
    const bar = importForm.querySelector("[data-import-bar]");
    const status = importForm.querySelector("[data-import-status]");
    const report = document.querySelector("[data-import-report]");
    const summary = report.querySelector("[data-import-summary]");
    const rejected = report.querySelector("[data-import-rejected]");

    const refreshTable = async () => {
      // The table, tags and count as they are now, from the page itself.
      const page = new DOMParser().parseFromString(await fragment(location.href), "text/html");
      ["[data-contacts-table]", "[data-tag-list]", "[data-contact-total]"].forEach((selector) => {
        const fresh = page.querySelector(selector);
        const old = document.querySelector(selector);
        if (fresh && old) old.replaceWith(fresh);
      });
    };

    const showReport = (data) => {
      summary.textContent = "Imported " + data.imported + ", updated " + data.updated + ", rejected " + data.rejectedCount;
      const body = rejected.querySelector("tbody");
      body.replaceChildren();
      data.rejected.forEach((row) => {
        const tr = document.createElement("tr");
        [String(row.line), row.reason].forEach((text) => {
          const td = document.createElement("td");
          td.textContent = text;
          tr.appendChild(td);
        });
        body.appendChild(tr);
      });
      rejected.hidden = data.rejected.length === 0;
      report.hidden = false;
    };

    importForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const button = importForm.querySelector("button[type=submit]");
      const xhr = new XMLHttpRequest();
      xhr.open("POST", importForm.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRF-Token", window.wagate.csrfToken());
      xhr.upload.addEventListener("progress", (progress) => {
        if (!progress.lengthComputable) return;
        const percent = Math.round((progress.loaded / progress.total) * 100);
        bar.value = percent;
        status.textContent = "Uploading… " + percent + "%";
      });
      xhr.upload.addEventListener("load", () => {
        bar.removeAttribute("value"); // the server reads the rows now: no measure of it
        status.textContent = "Importing…";
      });
      xhr.addEventListener("load", async () => {
        button.disabled = false;
        let data = null;
        try {
          data = JSON.parse(xhr.responseText);
        } catch (ignored) {
          data = null;
        }
        if (xhr.status !== 200 || !data) {
          bar.value = 0;
          status.textContent = data && data.error ? data.error.message : "Import failed (" + xhr.status + ")";
          return;
        }
        bar.value = 100;
        status.textContent = "Done";
        showReport(data);
        try {
          await refreshTable();
        } catch (ignored) {
          // the report stands; a reload shows the table
        }
      });
      xhr.addEventListener("error", () => {
        button.disabled = false;
        status.textContent = "The upload failed; try again";
      });
      button.disabled = true;
      bar.value = 0;
      status.textContent = "Uploading… 0%";
      box.hidden = false;
      report.hidden = true;
      xhr.send(new FormData(importForm));
    });
  }
})();
