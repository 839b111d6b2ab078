// Broadcasts: while a campaign runs, its card is fetched again every 2 s, so
// its progress bar and counts move live.
setInterval(async () => {
  const card = document.getElementById("campaigns");
  const url = card && card.dataset.refresh;
  if (!url) return;
  const response = await fetch(url, { credentials: "same-origin" });
  if (response.ok) card.outerHTML = await response.text();
}, 2000);
