// The simulated Microsoft Teams web client (see shared/PLATFORMS.md for the facts it reproduces).
//
// Optional "Continue on this browser" → pre-join (name, camera/microphone switches, "Computer
// audio", "Join now") → lobby → call. In the call, everybody's speech arrives like on the real
// Teams: ONE mixed remote audio stream over a real RTCPeerConnection (a loopback inside this
// page), played by an <audio> element; nothing in the audio says who speaks. Who speaks shows
// only on the tiles: `[data-tid="voice-level-stream-outline"]` carries the extra class
// `vdi-frame-occlusion` exactly while its participant's audio is scheduled to be audible. The
// server decides admission, removal and the end; this page polls it (common.js).
// A gallery holds `data-gallery-size` remote tiles at most (scenario `gallery_size`); anyone
// else is only counted on an overflow tile and has no outline, as on a real small gallery.
// Live captions: More → "Language and speech" → "Turn on live captions" shows the caption list,
// one row per turn (`[data-tid="author"]` + `[data-tid="closed-caption-text"]`) that appears
// CAPTION_DELAY_S after the turn starts and is rewritten in place while it goes on (scenario
// `captions: false`: the meeting's policy turned them off, the menu item is disabled).
(function () {
  "use strict";

  const root = document.getElementById("root");
  if (!root || root.dataset.notFound === "1") return;

  const sim = window.VexaSimulator.meeting(root);
  const el = window.VexaSimulator.el;
  const SPEAKING_CLASS = "vdi-frame-occlusion";
  // Teams mixes every remote speaker into one stream.
  const TRACK_COUNT = 1;
  // Live captions trail the speech (Teams transcribes it on its servers).
  const CAPTION_DELAY_S = 0.8;
  const CAPTION_STEP_S = 0.25;
  const gallerySize = root.dataset.gallerySize ? Number(root.dataset.gallerySize) : Infinity;
  const captionsAllowed = root.dataset.captions !== "0";
  let captionList = null; // the caption rows' container, once captions are on
  const captionRows = new Map(); // turn index → caption row
  const namesById = new Map(); // scenario participant id → name
  let overflow = 0;

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
    // The link's `p` is the meeting's passcode: a wrong one is refused.
    const passcode = new URLSearchParams(window.location.search).get("p") || "";
    const state = await sim.join(myName, { passcode: passcode });
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
    const chatButton = el("button", { type: "button", id: "chat-button", "aria-label": "Chat", text: "Chat" });
    // Teams types into a CKEditor rich-text box.
    const chatBox = el("div", {
      "data-tid": "ckeditor",
      role: "textbox",
      contenteditable: "true",
      "aria-label": "Type a message",
    });
    const chat = sim.chatPanel(
      chatButton,
      chatBox,
      el("button", { type: "button", "data-tid": "newMessageCommands-send", "aria-label": "Send", text: "Send" }),
      // The meeting chat's message list: the author's name on others' messages, none on the
      // guest's own (Teams shows those on the right, unnamed).
      {
        list: { "data-tid": "message-pane-list-viewport" },
        group: { "data-tid": "chat-pane-item" },
        header: {},
        senderTag: "span",
        sender: { "data-tid": "message-author-name" },
        self: null,
        text: { "data-tid": "chat-pane-message" },
      },
    );
    show(
      el("div", { class: "call" }, [
        stage,
        chat,
        el("div", { role: "toolbar", "data-tid": "calling-controls", "aria-label": "Meeting controls" }, [
          chatButton,
          el("button", {
            type: "button",
            id: "roster-button",
            "data-tid": "roster-button",
            "aria-label": "People",
            text: "People",
          }),
          el("button", { type: "button", id: "microphone-button", "aria-label": "Mute mic", text: "Mic" }),
          moreButton(),
          hangupButton(),
        ]),
      ]),
    );
    sim.startAudio(TRACK_COUNT);
    setInterval(updateSpeaking, 40);
    setInterval(updateCaptions, CAPTION_STEP_S * 1000);
  }

  // --- More → Language and speech → live captions ----------------------------------------------
  function moreButton() {
    const more = el("button", {
      type: "button",
      id: "callingButtons-showMoreBtn",
      "data-tid": "more-button",
      "aria-label": "More",
      "aria-expanded": "false",
      text: "More",
    });
    more.addEventListener("click", () => {
      const open = root.querySelector(".more-menu");
      if (open) {
        open.remove();
        more.setAttribute("aria-expanded", "false");
        return;
      }
      more.setAttribute("aria-expanded", "true");
      const language = el("div", {
        id: "LanguageSpeechMenuControl-id",
        role: "menuitem",
        text: "Language and speech",
      });
      const menu = el("div", { class: "more-menu", role: "menu" }, [language]);
      language.addEventListener("click", () => {
        if (menu.querySelector("#closed-captions-button")) return;
        const on = captionList !== null;
        const toggle = el("div", {
          id: "closed-captions-button",
          role: "menuitemcheckbox",
          "data-tid": on ? "closed-captions-button-on" : "closed-captions-button-off",
          "aria-checked": on ? "true" : "false",
          "aria-disabled": captionsAllowed ? "false" : "true",
          text: on ? "Turn off live captions" : "Turn on live captions",
        });
        toggle.addEventListener("click", () => {
          if (!captionsAllowed) return;
          if (captionList === null) showCaptions();
          menu.remove();
          more.setAttribute("aria-expanded", "false");
        });
        menu.appendChild(el("div", { role: "menu", class: "more-submenu" }, [toggle]));
      });
      more.parentElement.appendChild(menu);
    });
    return more;
  }

  function showCaptions() {
    captionList = el("div", { "data-tid": "closed-caption-v2-virtual-list-content" });
    root.querySelector(".call").appendChild(
      el("div", { "data-tid": "closed-caption-v2-window-wrapper", class: "captions" }, [captionList]),
    );
  }

  function updateCaptions() {
    if (phase !== "call" || captionList === null) return;
    const now = sim.scenarioNow();
    if (now === null) return;
    sim.scheduledTurns.forEach((turn, index) => {
      const since = now - CAPTION_DELAY_S - turn.at;
      if (since < 0 || since > turn.end - turn.at) return;
      let row = captionRows.get(index);
      if (!row) {
        row = el("div", { class: "fui-ChatMessageCompact" }, [
          el("span", { "data-tid": "author", text: namesById.get(turn.participantId) || "" }),
          el("span", { "data-tid": "closed-caption-text", dir: "auto" }),
        ]);
        captionRows.set(index, row);
        captionList.appendChild(row);
      }
      // The words so far: the simulator has no text for the speech, so a growing placeholder.
      const words = Math.floor(since / CAPTION_STEP_S) + 1;
      row.querySelector('[data-tid="closed-caption-text"]').textContent = "…".repeat(words);
    });
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
    let hidden = 0;
    for (const participant of state.participants) {
      namesById.set(participant.participant_id, participant.name);
      const existing = tilesById.get(participant.participant_id);
      if (participant.present && !existing) {
        if (tilesById.size >= gallerySize) {
          hidden += 1;
          continue;
        }
        const node = tile(participant.name);
        tilesById.set(participant.participant_id, node);
        stage.appendChild(node);
      } else if (!participant.present && existing) {
        existing.remove();
        tilesById.delete(participant.participant_id);
      }
    }
    if (hidden !== overflow) {
      overflow = hidden;
      const old = stage.querySelector('[data-tid="gallery-overflow"]');
      if (old) old.remove();
      if (hidden > 0) stage.appendChild(el("div", { "data-tid": "gallery-overflow", text: `+${hidden}` }));
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
