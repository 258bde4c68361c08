// The simulator's host control page: who waits, who is in, what the chat says; Admit / Deny /
// Remove / End.
(function () {
  "use strict";
  const root = document.getElementById("host");
  const api = root.dataset.api;
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;

  async function act(action, guestId) {
    await fetch(api + "/" + action, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(guestId ? { guest_id: guestId } : {}),
      credentials: "same-origin",
    });
    refresh();
  }

  function button(label, action, guestId) {
    const node = document.createElement("button");
    node.type = "button";
    node.textContent = label;
    node.addEventListener("click", () => act(action, guestId));
    return node;
  }

  async function refresh() {
    const response = await fetch(api, { credentials: "same-origin" });
    if (!response.ok) {
      document.getElementById("summary").textContent = "No simulated meeting (" + response.status + ")";
      return;
    }
    const state = await response.json();
    document.getElementById("summary").textContent =
      (state.ended ? "Ended. " : "") +
      (state.elapsed_s === null ? "Not started" : "Running for " + state.elapsed_s.toFixed(1) + " s");
    const rows = document.getElementById("guests");
    rows.replaceChildren();
    for (const guest of state.guests) {
      const row = document.createElement("tr");
      const name = document.createElement("td");
      name.textContent = guest.name;
      const st = document.createElement("td");
      st.textContent = guest.state;
      const actions = document.createElement("td");
      if (guest.state === "waiting") {
        actions.append(button("Admit", "admit", guest.guest_id), button("Deny", "deny", guest.guest_id));
      } else if (guest.state === "admitted") {
        actions.append(button("Remove", "remove", guest.guest_id));
      }
      row.append(name, st, actions);
      rows.appendChild(row);
    }
    document.getElementById("present").textContent = state.present.join(", ") || "nobody";
    document.getElementById("chat").replaceChildren(
      ...state.chat.map((message) => {
        const item = document.createElement("li");
        const sender = document.createElement("strong");
        sender.textContent = message.sender;
        item.append(sender, ": " + message.text);
        return item;
      }),
    );
  }

  document.getElementById("end").addEventListener("click", () => act("end"));
  refresh();
  setInterval(refresh, 1000);
})();
