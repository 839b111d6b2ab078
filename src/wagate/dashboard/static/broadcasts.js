// Broadcasts: while a campaign runs, its card is fetched again every 2 s, so
// its progress bar and counts move live.
setInterval(async () => {
  const card = document.getElementById("campaigns");
  const url = card && card.dataset.refresh;
  if (!url) return;
  const response = await fetch(url, { credentials: "same-origin" });
  if (response.ok) card.outerHTML = await response.text();
}, 2000);

// The template editor's live preview: rendered by the server as the first
// contact would get it; a missing variable shows as the error that names it.
document.querySelectorAll("textarea[data-preview]").forEach((editor) => {
  const output = document.getElementById(editor.dataset.preview);
  let timer = null;
  editor.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const form = new FormData();
      form.append("body", editor.value);
      try {
        const answer = await window.wagate.request("/dashboard/broadcasts/templates/preview", {
          method: "POST",
          body: form,
        });
        output.textContent = answer.text;
        output.classList.remove("error");
      } catch (error) {
        output.textContent = error.message;
        output.classList.add("error");
      }
    }, 250);
  });
});
