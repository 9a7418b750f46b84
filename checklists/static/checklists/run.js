// Tick without reloading: post the same form with fetch() and swap the item in.
// Without JavaScript the forms post normally and the page comes back.
document.addEventListener("submit", async (event) => {
  const form = event.target.closest("form.tick-form");
  if (!form) return;
  event.preventDefault();
  const body = new FormData(form);
  if (event.submitter && event.submitter.name) body.append(event.submitter.name, event.submitter.value);
  const response = await fetch(form.action, {method: "POST", body, headers: {"Accept": "application/json"}});
  const data = await response.json().catch(() => ({error: response.statusText}));
  if (!response.ok) { alert(data.error); return; }
  form.closest("li.run-item").outerHTML = data.html;
  document.getElementById("run-progress").textContent = data.progress;
  const openRequired = document.getElementById("open-required");
  if (openRequired) { openRequired.textContent = data.open_required; openRequired.hidden = !data.open_required; }
});
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy], pre.code + button.copy");
  if (button) navigator.clipboard.writeText(button.dataset.copy || button.previousElementSibling.innerText);
});
// Playbooks: a copy button under every code block.
document.querySelectorAll(".markdown pre").forEach((pre) => {
  const button = document.createElement("button");
  button.type = "button"; button.className = "copy"; button.textContent = pre.closest(".markdown").dataset.copyLabel;
  button.dataset.copy = pre.innerText;
  pre.after(button);
});
