// The simulated Google Meet web client (see shared/PLATFORMS.md for the facts it reproduces).
//
// Pre-join (name field, mic/camera toggles, "Ask to join" or "Join now") → waiting room → call.
// In the call, participants' speech arrives like on the real Meet: over a real RTCPeerConnection
// (a loopback inside this page) on THREE receiver tracks re-used across speakers, each track
// played by an <audio> element whose srcObject is its MediaStream. A tile shows the speaking
// class exactly while its participant's audio is scheduled to be audible. The server decides
// admission, removal and the end (scenario + host actions); this page polls it. The API and the
// media are shared with the other platforms' pages (common.js).
(function () {
  "use strict";

  const root = document.getElementById("root");
  if (!root || root.dataset.notFound === "1") return;

  const sim = window.VexaSimulator.meeting(root);
  const el = window.VexaSimulator.el;
  // One of Meet's obfuscated "speaking" classes (the bot's adapter keeps the list).
  const SPEAKING_CLASS = "Oaajhc";
  const SILENT_CLASS = "gjg47c";
  const TRACK_COUNT = 3;

  let myName = "";
  let phase = "prejoin";

  function show(...nodes) {
    root.replaceChildren(...nodes);
  }

  // --- pre-join -----------------------------------------------------------------------------
  const nameInput = root.querySelector('input[aria-label="Your name"]');
  const joinButton = root.querySelector(".join-button");
  nameInput.addEventListener("input", () => {
    joinButton.disabled = nameInput.value.trim() === "";
  });
  for (const toggle of root.querySelectorAll(".toggle")) {
    toggle.addEventListener("click", () => {
      const kind = toggle.dataset.kind;
      const off = toggle.dataset.off === "1";
      toggle.dataset.off = off ? "0" : "1";
      const shortcut = kind === "microphone" ? "d" : "e";
      toggle.setAttribute(
        "aria-label",
        (off ? "Turn off " : "Turn on ") + kind + " (ctrl + " + shortcut + ")",
      );
    });
  }
  joinButton.addEventListener("click", async () => {
    myName = nameInput.value.trim();
    if (!myName) return;
    joinButton.disabled = true;
    const state = await sim.join(myName);
    if (state === null) {
      showDeadEnd("Can't join the meeting", "Something went wrong.", ["Try again"]);
      return;
    }
    render(state);
    sim.poll(render);
  });

  // --- states -------------------------------------------------------------------------------
  function render(state) {
    const guestState = state.guest ? state.guest.state : "waiting";
    if (phase === "call" && state.ended) return finish("ended");
    if (guestState === "waiting" && phase !== "lobby") {
      phase = "lobby";
      show(
        el("div", { class: "lobby" }, [
          el("h1", { text: "Asking to be let in…" }),
          el("p", { text: "You'll join the call when someone lets you in" }),
          el("div", { class: "preview" }),
        ]),
      );
    } else if (guestState === "admitted") {
      if (phase !== "call") enterCall(state);
      updateTiles(state);
    } else if (guestState === "denied") {
      finish("denied");
    } else if (guestState === "timed_out") {
      finish("timed_out");
    } else if (guestState === "removed") {
      finish("removed");
    }
  }

  function showDeadEnd(title, text, buttons) {
    show(
      el(
        "div",
        { class: "dead-end" },
        [el("h1", { text: title }), el("p", { text: text })].concat(
          buttons.map((label) => el("button", { type: "button", text: label })),
        ),
      ),
    );
  }

  function finish(how) {
    sim.stopPolling();
    sim.stopAudio();
    phase = how;
    if (how === "ended") {
      showDeadEnd("Call ended", "The host ended the meeting for everyone.", [
        "Return to home screen",
      ]);
    } else if (how === "denied") {
      showDeadEnd("You can't join this video call", "Someone in the call denied your request.", []);
    } else if (how === "timed_out") {
      showDeadEnd(
        "No one responded to your request to join the call",
        "You can ask to join again.",
        ["Return to home screen"],
      );
    } else if (how === "removed") {
      showDeadEnd("You've been removed from the meeting", "Someone removed you from the call.", [
        "Return to home screen",
      ]);
    } else if (how === "left") {
      showDeadEnd("You left the meeting", "Have a nice day!", ["Rejoin", "Return to home screen"]);
    }
  }

  // --- the call -----------------------------------------------------------------------------
  function enterCall(state) {
    phase = "call";
    const tiles = el("div", { class: "tiles" }, [
      tile("spaces/sim/devices/self-" + sim.guestId, myName),
    ]);
    const leave = el("button", { type: "button", "aria-label": "Leave call", text: "Leave" });
    leave.addEventListener("click", leaveCall);
    const chatButton = el("button", { type: "button", "aria-label": "Chat with everyone", text: "Chat" });
    const chat = sim.chatPanel(
      chatButton,
      el("textarea", { "aria-label": "Send a message to everyone" }),
      el("button", { type: "button", "aria-label": "Send a message", text: "Send" }),
      // Meet's "In-call messages" (as peers' extensions read them): a group per sender run,
      // "You" on the guest's own.
      {
        list: { class: "Ge9Kpc z38b6", jsname: "xySENc", "aria-live": "polite" },
        group: { class: "Ss4fHf", jsname: "Ypafjf" },
        header: { class: "QTyiie" },
        sender: { class: "poVWob" },
        self: "You",
        text: { jsname: "dTKtvb" },
        hint: { class: "pZBsfc", text: "Hover over a message to pin it" },
      },
    );
    show(
      el("div", { class: "call" }, [
        tiles,
        el("div", { role: "toolbar", "aria-label": "Call controls" }, [
          el("button", { type: "button", "aria-label": "Turn off microphone", text: "Mic" }),
          el("button", { type: "button", "aria-label": "People", text: "People" }),
          chatButton,
          leave,
        ]),
        chat,
      ]),
    );
    sim.startAudio(TRACK_COUNT);
    setInterval(updateSpeaking, 40);
  }

  function tile(participantId, name) {
    return el("div", { "data-participant-id": participantId, "data-requested-participant-id": participantId }, [
      el("div", { class: "indicator " + SILENT_CLASS }),
      el("span", { class: "notranslate", text: name }),
    ]);
  }

  function updateTiles(state) {
    const container = root.querySelector(".tiles");
    if (!container) return;
    for (const participant of state.participants) {
      const selector = '[data-participant-id="' + participant.participant_id + '"]';
      const existing = container.querySelector(selector);
      if (participant.present && !existing) {
        container.appendChild(tile(participant.participant_id, participant.name));
      } else if (!participant.present && existing) {
        existing.remove();
      }
    }
  }

  function updateSpeaking() {
    if (phase !== "call") return;
    for (const node of root.querySelectorAll("[data-participant-id]")) {
      const speaking = sim.speaking(node.getAttribute("data-participant-id"));
      const indicator = node.querySelector(".indicator");
      indicator.classList.toggle(SPEAKING_CLASS, speaking);
      indicator.classList.toggle(SILENT_CLASS, !speaking);
    }
  }

  async function leaveCall() {
    await sim.leave();
    finish("left");
  }
})();
