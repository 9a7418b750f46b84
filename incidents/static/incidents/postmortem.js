// Add an action item row without a round trip; without JavaScript the button
// asks the server for one.
document.getElementById("add-action-item").addEventListener("click", (event) => {
  const total = document.getElementById("id_items-TOTAL_FORMS");
  const html = document.getElementById("action-item-template").innerHTML.replace(/__prefix__/g, total.value);
  document.getElementById("action-item-rows").insertAdjacentHTML("beforeend", html);
  total.value = parseInt(total.value, 10) + 1;
  event.preventDefault();
});
