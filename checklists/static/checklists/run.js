// Tick without reloading: post the same form with fetch() and swap the item in.
// Without JavaScript the forms post normally and the page comes back.

// A refused tick says why next to the field it is about (the reason for a skip), or above the
// buttons, and moves the focus there: no dialog box.
function showErrors(form, errors) {
  form.querySelectorAll(".field-error").forEach((old) => old.remove());
  form.querySelectorAll("[aria-invalid]").forEach((field) => {
    field.removeAttribute("aria-invalid");
    field.removeAttribute("aria-describedby");
  });
  let first = null;
  Object.entries(errors).forEach(([name, messages], index) => {
    const field = form.elements.namedItem(name);
    const message = document.createElement("p");
    message.className = "errorlist field-error";
    message.id = `${form.closest("li.run-item").id}-error-${index}`;
    message.setAttribute("role", "alert");
    message.textContent = messages.join(" ");
    if (field instanceof HTMLInputElement) {
      field.closest("label").after(message);
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby", message.id);
      first = first || field;
    } else {
      form.querySelector(".tick-buttons").before(message);
    }
  });
  if (first) first.focus();
}

document.addEventListener("submit", async (event) => {
  const form = event.target.closest("form.tick-form");
  if (!form) return;
  event.preventDefault();
  const body = new FormData(form);
  if (event.submitter && event.submitter.name) body.append(event.submitter.name, event.submitter.value);
  const response = await fetch(form.action, {method: "POST", body, headers: {"Accept": "application/json"}});
  const data = await response.json().catch(() => ({error: response.statusText}));
  showErrors(form, response.ok ? {} : (data.errors || {__all__: [data.error]}));
  if (!response.ok) return;
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
