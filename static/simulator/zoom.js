// The simulated Zoom web client (see shared/PLATFORMS.md for the facts it reproduces).
//
// Preview (name, Mute / Stop Video, "Join") → "Waiting for the host to start this meeting" while
// the host has not come (scenario `host_starts_after_s`) → the waiting room ("Please wait, the
// meeting host will let you in soon.") → the call. A meeting for signed-in users only shows a
// sign-in page instead of the preview (scenario `require_sign_in`, rendered by the template).
// A meeting with a passcode that the link's `pwd` does not carry shows a passcode field on the
// preview; a wrong one gets "Passcode wrong" and the form stays.
// In the call, everybody's speech arrives like on the real Zoom: ONE mixed remote audio stream
// over a real RTCPeerConnection (a loopback inside this page), played by an <audio> element.
// Who speaks shows only on the video tiles: `.video-avatar__avatar` carries the highlight class
// `video-avatar__avatar--active` exactly while its participant's audio is scheduled to be
// audible. The server decides the host's arrival, admission, removal and the end; this page
// polls it (common.js).
// The call's audio may need joining (scenario `audio_join`): Zoom's web client can enter the
// call without it, the footer's first button reading "Join Audio" and a dialog offering "Join
// Audio by Computer"; until that is clicked no remote audio plays (its receive pipeline starts
// only then), so a bot that does not click hears nothing.
(function () {
  "use strict";

  const root = document.getElementById("root");
  if (!root || root.dataset.notFound === "1" || root.dataset.signIn === "1") return;

  const sim = window.VexaSimulator.meeting(root);
  const el = window.VexaSimulator.el;
  const SPEAKING_CLASS = "video-avatar__avatar--active";
  // Zoom mixes every remote speaker into one stream.
  const TRACK_COUNT = 1;

  let myName = "";
  let phase = "prejoin";
  let audioButton = null; // the footer's first button: "Join Audio" or the microphone
  let audioDrops = 0; // drops of the call's audio seen (host action `drop_audio`)
  const tilesById = new Map(); // scenario participant id → tile element

  function show(...nodes) {
    root.replaceChildren(...nodes);
  }

  // --- preview ------------------------------------------------------------------------------
  const nameInput = root.querySelector("#input-for-name");
  const passcodeInput = root.querySelector("#input-for-pwd");
  const formError = root.querySelector(".form-error");
  const joinButton = root.querySelector(".preview-join-button");
  const enableJoin = () => {
    joinButton.disabled =
      nameInput.value.trim() === "" || (passcodeInput !== null && passcodeInput.value === "");
  };
  nameInput.addEventListener("input", enableJoin);
  if (passcodeInput) passcodeInput.addEventListener("input", enableJoin);
  // The preview's buttons name what a click does next.
  const labels = {
    "preview-audio-control-button": ["Mute", "Unmute"],
    "preview-video-control-button": ["Stop Video", "Start Video"],
  };
  for (const [id, [on, off]] of Object.entries(labels)) {
    const button = root.querySelector("#" + id);
    button.addEventListener("click", () => {
      const next = button.getAttribute("aria-label") === on ? off : on;
      button.setAttribute("aria-label", next);
      button.textContent = next;
    });
  }
  joinButton.addEventListener("click", async () => {
    myName = nameInput.value.trim();
    if (!myName) return;
    joinButton.disabled = true;
    const passcode = passcodeInput
      ? passcodeInput.value
      : new URLSearchParams(window.location.search).get("pwd") || "";
    const state = await sim.join(myName, { passcode: passcode });
    if (state === null && sim.refusal === "Passcode wrong") {
      formError.textContent = "Passcode wrong. Please try again.";
      formError.hidden = false;
      enableJoin();
      return;
    }
    if (state === null) {
      showDeadEnd("Unable to join this meeting", "Please try again later.");
      return;
    }
    render(state);
    sim.poll(render);
  });

  // --- states -------------------------------------------------------------------------------
  function render(state) {
    const guestState = state.guest ? state.guest.state : "waiting";
    if (phase === "call" && state.ended) return finish("ended");
    if (guestState === "waiting" && !state.host_started && phase !== "host") {
      phase = "host";
      show(
        el("div", { class: "waiting" }, [
          el("h1", { text: "Waiting for the host to start this meeting" }),
          el("p", { text: "This meeting will start when the host joins." }),
        ]),
      );
    } else if (guestState === "waiting" && state.host_started && phase !== "waiting_room") {
      phase = "waiting_room";
      show(
        el("div", { class: "waiting" }, [
          el("h1", { text: "Please wait, the meeting host will let you in soon." }),
          el("p", { text: myName }),
        ]),
      );
    } else if (guestState === "admitted") {
      if (phase !== "call") enterCall();
      updateTiles(state);
      if ((state.guest.audio_drops || 0) > audioDrops) {
        audioDrops = state.guest.audio_drops;
        dropAudio();
      }
    } else if (guestState === "denied") {
      finish("denied");
    } else if (guestState === "timed_out") {
      finish("timed_out");
    } else if (guestState === "removed") {
      finish("removed");
    }
  }

  function showDeadEnd(title, text) {
    show(
      el("div", { class: "zm-modal" }, [
        el("div", { class: "zm-modal-body-title", text: title }),
        el("p", { text: text }),
      ]),
    );
  }

  function finish(how) {
    sim.stopPolling();
    sim.stopAudio();
    phase = how;
    tilesById.clear();
    if (how === "ended") {
      showDeadEnd("This meeting has been ended by host", "");
    } else if (how === "denied") {
      showDeadEnd("The host has denied your request to join this meeting.", "");
    } else if (how === "timed_out") {
      showDeadEnd("Your request to join has expired.", "Try joining again.");
    } else if (how === "removed") {
      showDeadEnd("You have been removed from this meeting", "The host removed you.");
    } else if (how === "left") {
      showDeadEnd("You left the meeting", "");
    }
  }

  // --- the call -----------------------------------------------------------------------------
  function footerButton(attrs) {
    return el("button", { type: "button", class: "footer-button-base__button", ...attrs });
  }

  function enterCall() {
    phase = "call";
    audioButton = footerButton({
      class: "footer-button-base__button join-audio-container__btn",
    });
    const joinAudio = root.dataset.audioJoin || "auto";
    const gallery = el("div", { class: "gallery-video-container" }, [tile(myName)]);
    const leave = footerButton({
      class: "footer-button-base__button footer__leave-btn",
      "aria-label": "Leave",
      text: "Leave",
    });
    leave.addEventListener("click", showLeaveMenu);
    const chatButton = footerButton({ "aria-label": "open the chat panel", text: "Chat" });
    // Zoom's chat box is a rich-text editor; Enter sends.
    const chatBox = el("div", { contenteditable: "true", "aria-label": "Type message here" });
    el("div", { class: "chat-rtf-box__editor-outer" }, [chatBox]);
    const chat = sim.chatPanel(chatButton, chatBox, null, {
      list: { class: "chat-container__chat-list" },
      group: { class: "new-chat-item__container" },
      header: { class: "new-chat-item__chat-info-header" },
      senderTag: "span",
      sender: { class: "chat-item__sender" },
      self: "Me",
      text: { class: "new-chat-message__text-content" },
    });
    show(
      el("div", { class: "meeting-app" }, [
        gallery,
        chat,
        el("div", { id: "wc-footer", class: "footer" }, [
          audioButton,
          footerButton({
            class: "footer-button-base__button send-video-container__btn",
            "aria-label": "start my video",
            text: "Start Video",
          }),
          footerButton({ id: "participants-button", text: "Participants" }),
          chatButton,
          leave,
        ]),
      ]),
    );
    // While the audio is not joined the footer's button opens the dialog (no-op once joined).
    const dialogMode = joinAudio === "disabled" ? "disabled" : "prompt";
    audioButton.addEventListener("click", () => showAudioDialog(audioButton, dialogMode));
    if (joinAudio === "auto") {
      audioJoined(audioButton);
    } else {
      audioButton.setAttribute("aria-label", "join audio");
      audioButton.textContent = "Join Audio";
      showAudioDialog(audioButton, dialogMode);
    }
    setInterval(updateSpeaking, 40);
  }

  // Zoom dropped the computer audio: the footer offers "Join Audio" again and nothing plays.
  function dropAudio() {
    if (!audioButton || !audioButton.dataset.joined) return;
    delete audioButton.dataset.joined;
    audioButton.setAttribute("aria-label", "join audio");
    audioButton.textContent = "Join Audio";
    sim.dropAudio();
    showAudioDialog(audioButton, "prompt");
  }

  function audioJoined(audioButton) {
    audioButton.dataset.joined = "1";
    audioButton.setAttribute("aria-label", "mute my microphone");
    audioButton.textContent = "Mute";
    sim.startAudio(TRACK_COUNT);
  }

  function showAudioDialog(audioButton, joinAudio) {
    const app = root.querySelector(".meeting-app");
    if (!app || app.querySelector(".join-audio-dialog") || audioButton.dataset.joined) return;
    const join = el("button", {
      type: "button",
      class: "zm-btn join-audio-by-voip__join-btn",
      text: "Join Audio by Computer",
    });
    if (joinAudio === "disabled") join.disabled = true;
    const close = el("button", { type: "button", class: "zm-btn--close", "aria-label": "close" });
    close.textContent = "\u00d7";
    const dialog = el("div", { class: "join-audio-dialog", role: "dialog" }, [
      el("div", { class: "join-audio-dialog__tabs", role: "tablist" }, [
        el("button", { type: "button", role: "tab", "aria-selected": "false", text: "Phone Call" }),
        el("button", { type: "button", role: "tab", "aria-selected": "true", text: "Computer Audio" }),
      ]),
      join,
      close,
    ]);
    join.addEventListener("click", () => {
      dialog.remove();
      audioButton.dataset.joined = "1";
      audioJoined(audioButton);
    });
    close.addEventListener("click", () => dialog.remove());
    app.appendChild(dialog);
  }

  function showLeaveMenu() {
    const footer = root.querySelector("#wc-footer");
    if (!footer || footer.querySelector(".leave-meeting-options")) return;
    const confirm = el("button", {
      type: "button",
      class: "zm-btn leave-meeting-options__btn leave-meeting-options__btn--danger",
      text: "Leave Meeting",
    });
    confirm.addEventListener("click", leaveCall);
    footer.appendChild(el("div", { class: "leave-meeting-options" }, [confirm]));
  }

  function tile(name) {
    return el("div", { class: "gallery-video-container__video-frame" }, [
      el("div", { class: "video-avatar__avatar", "aria-label": name }, [
        el("div", { class: "video-avatar__avatar-footer" }, [el("span", { text: name })]),
      ]),
    ]);
  }

  function updateTiles(state) {
    const gallery = root.querySelector(".gallery-video-container");
    if (!gallery) return;
    for (const participant of state.participants) {
      const existing = tilesById.get(participant.participant_id);
      if (participant.present && !existing) {
        const node = tile(participant.name);
        tilesById.set(participant.participant_id, node);
        gallery.appendChild(node);
      } else if (!participant.present && existing) {
        existing.remove();
        tilesById.delete(participant.participant_id);
      }
    }
    const count = gallery.querySelectorAll(".video-avatar__avatar").length;
    root
      .querySelector("#participants-button")
      .setAttribute("aria-label", `open the participants list pane,[${count}] particpants`);
  }

  function updateSpeaking() {
    if (phase !== "call") return;
    for (const [participantId, node] of tilesById) {
      const avatar = node.querySelector(".video-avatar__avatar");
      avatar.classList.toggle(SPEAKING_CLASS, sim.speaking(participantId));
    }
  }

  async function leaveCall() {
    if (phase === "call") {
      await sim.leave();
      finish("left");
    }
  }
})();
