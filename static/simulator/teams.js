// The simulated Microsoft Teams web client (see shared/PLATFORMS.md for the facts it reproduces).
//
// Optional "Continue on this browser" → pre-join (name, camera/microphone switches, "Computer
// audio", "Join now") → lobby → call. In the call, everybody's speech arrives like on the real
// Teams: ONE mixed remote audio stream over a real RTCPeerConnection (a loopback inside this
// page), played by an <audio> element; nothing in the audio says who speaks. Who speaks shows
// only on the tiles: `[data-tid="voice-level-stream-outline"]` carries the extra class
// `vdi-frame-occlusion` exactly while its participant's audio is scheduled to be audible. The
// server decides admission, removal and the end; this page polls it (common.js).
(function () {
  "use strict";

  const root = document.getElementById("root");
  if (!root || root.dataset.notFound === "1") return;

  const sim = window.VexaSimulator.meeting(root);
  const el = window.VexaSimulator.el;
  const SPEAKING_CLASS = "vdi-frame-occlusion";
  // Teams mixes every remote speaker into one stream.
  const TRACK_COUNT = 1;

  let myName = "";
  let phase = "prejoin";
  const tilesById = new Map(); // scenario participant id → tile element

  function show(...nodes) {
    root.replaceChildren(...nodes);
  }

  // --- "continue on this browser" and pre-join ----------------------------------------------
  const prejoin = root.querySelector(".prejoin");
  const launcher = root.querySelector(".launcher");
  if (launcher) {
    launcher.querySelector('[data-tid="joinOnWeb"]').addEventListener("click", () => {
      launcher.remove();
      prejoin.hidden = false;
    });
  }
  const nameInput = root.querySelector('input[data-tid="prejoin-display-name-input"]');
  const joinButton = root.querySelector('[data-tid="prejoin-join-button"]');
  nameInput.addEventListener("input", () => {
    joinButton.disabled = nameInput.value.trim() === "";
  });
  for (const toggle of root.querySelectorAll('[role="switch"]')) {
    toggle.addEventListener("click", () => {
      const on = toggle.getAttribute("aria-checked") === "true";
      toggle.setAttribute("aria-checked", on ? "false" : "true");
    });
  }
  for (const option of root.querySelectorAll('[role="radio"]')) {
    option.addEventListener("click", () => {
      for (const other of root.querySelectorAll('[role="radio"]')) {
        other.setAttribute("aria-checked", other === option ? "true" : "false");
      }
    });
  }
  joinButton.addEventListener("click", async () => {
    myName = nameInput.value.trim();
    if (!myName) return;
    joinButton.disabled = true;
    const state = await sim.join(myName);
    if (state === null) {
      showDeadEnd("We couldn't connect you", "Something went wrong. Please try again.");
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
      // The lobby keeps a hang-up button: only the lobby text tells it from the call.
      show(
        el("div", { class: "lobby" }, [
          el("h1", { text: "Someone will let you in shortly" }),
          el("p", { text: "When the meeting starts, we'll let people know you're waiting." }),
          el("div", { class: "preview" }),
          el("div", { role: "toolbar", "aria-label": "Meeting controls" }, [hangupButton()]),
        ]),
      );
    } else if (guestState === "admitted") {
      if (phase !== "call") enterCall();
      updateTiles(state);
    } else if (guestState === "denied") {
      finish("denied");
    } else if (guestState === "timed_out") {
      finish("timed_out");
    } else if (guestState === "removed") {
      finish("removed");
    }
  }

  function showDeadEnd(title, text) {
    show(el("div", { class: "dead-end" }, [el("h1", { text: title }), el("p", { text: text })]));
  }

  function finish(how) {
    sim.stopPolling();
    sim.stopAudio();
    phase = how;
    tilesById.clear();
    if (how === "ended") {
      showDeadEnd("Meeting ended", "The organizer ended the meeting for everyone.");
    } else if (how === "denied") {
      showDeadEnd("Sorry, but you were denied access to the meeting.", "");
    } else if (how === "timed_out") {
      showDeadEnd("No one responded to your request to join", "Try joining again.");
    } else if (how === "removed") {
      showDeadEnd("You've been removed from this meeting", "Someone in the meeting removed you.");
    } else if (how === "left") {
      showDeadEnd("You left the meeting", "How was the call quality?");
    }
  }

  // --- the call -----------------------------------------------------------------------------
  function hangupButton() {
    const leave = el("button", {
      type: "button",
      id: "hangup-button",
      "data-tid": "hangup-main-btn",
      "aria-label": "Leave",
      text: "Leave",
    });
    leave.addEventListener("click", leaveCall);
    return leave;
  }

  function enterCall() {
    phase = "call";
    const stage = el("div", { class: "stage", "data-tid": "calling-stage" }, [tile(myName)]);
    show(
      el("div", { class: "call" }, [
        stage,
        el("div", { role: "toolbar", "data-tid": "calling-controls", "aria-label": "Meeting controls" }, [
          el("button", { type: "button", id: "chat-button", "aria-label": "Chat", text: "Chat" }),
          el("button", {
            type: "button",
            id: "roster-button",
            "data-tid": "roster-button",
            "aria-label": "People",
            text: "People",
          }),
          el("button", { type: "button", id: "microphone-button", "aria-label": "Mute mic", text: "Mic" }),
          hangupButton(),
        ]),
      ]),
    );
    sim.startAudio(TRACK_COUNT);
    setInterval(updateSpeaking, 40);
  }

  function tile(name) {
    return el("div", { "data-cid": "calling-participant-stream" }, [
      el("div", { "data-stream-type": "Video", "data-tid": name }, [
        el("div", { "data-tid": "voice-level-stream-outline", "data-is-speaking": "false" }),
        el("span", { class: "display-name", "data-tid": "display-name", text: name }),
      ]),
    ]);
  }

  function updateTiles(state) {
    const stage = root.querySelector(".stage");
    if (!stage) return;
    for (const participant of state.participants) {
      const existing = tilesById.get(participant.participant_id);
      if (participant.present && !existing) {
        const node = tile(participant.name);
        tilesById.set(participant.participant_id, node);
        stage.appendChild(node);
      } else if (!participant.present && existing) {
        existing.remove();
        tilesById.delete(participant.participant_id);
      }
    }
  }

  function updateSpeaking() {
    if (phase !== "call") return;
    for (const [participantId, node] of tilesById) {
      const speaking = sim.speaking(participantId);
      const outline = node.querySelector('[data-tid="voice-level-stream-outline"]');
      outline.classList.toggle(SPEAKING_CLASS, speaking);
      outline.setAttribute("data-is-speaking", speaking ? "true" : "false");
    }
  }

  async function leaveCall() {
    if (phase === "lobby" || phase === "call") {
      await sim.leave();
      finish("left");
    }
  }
})();
