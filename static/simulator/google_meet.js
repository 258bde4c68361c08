// The simulated Google Meet web client (see shared/PLATFORMS.md for the facts it reproduces).
//
// Pre-join (name field, mic/camera toggles, "Ask to join" or "Join now") → waiting room → call.
// In the call, participants' speech arrives like on the real Meet: over a real RTCPeerConnection
// (a loopback inside this page) on THREE receiver tracks re-used across speakers, each track
// played by an <audio> element whose srcObject is its MediaStream. A tile shows the speaking
// class exactly while its participant's audio is scheduled to be audible. The server decides
// admission, removal and the end (scenario + host actions); this page polls it.
(function () {
  "use strict";

  const root = document.getElementById("root");
  if (!root || root.dataset.notFound === "1") return;

  const api =
    "/simulator/api/meeting/" +
    encodeURIComponent(root.dataset.platform) +
    "/" +
    encodeURIComponent(root.dataset.meetingId);
  // One of Meet's obfuscated "speaking" classes (the bot's adapter keeps the list).
  const SPEAKING_CLASS = "Oaajhc";
  const SILENT_CLASS = "gjg47c";
  const TRACK_COUNT = 3;
  const POLL_MS = 250;

  let guestId = null;
  let myName = "";
  let phase = "prejoin";
  let pollTimer = null;
  let audioCtx = null;
  let loopback = null;
  let scenarioZero = null; // AudioContext time of scenario t=0 (the admission)
  let scheduledTurns = []; // {participantId, at, end}
  const buffers = new Map(); // url → Promise<AudioBuffer>

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children || []) node.appendChild(child);
    return node;
  }

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
    // Created inside the click so that autoplay rules let it run.
    audioCtx = new AudioContext();
    const response = await fetch(api + "/join", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: myName }),
    });
    if (!response.ok) {
      showDeadEnd("Can't join the meeting", "Something went wrong.", ["Try again"]);
      return;
    }
    const state = await response.json();
    guestId = state.guest.guest_id;
    prefetch(state);
    render(state);
    pollTimer = setInterval(poll, POLL_MS);
  });

  async function poll() {
    try {
      const response = await fetch(api + "/state?guest=" + encodeURIComponent(guestId));
      if (response.ok) render(await response.json());
    } catch (_err) {
      // A missed poll is retried at the next tick.
    }
  }

  function prefetch(state) {
    for (const participant of state.participants) {
      for (const turn of participant.turns) {
        if (!buffers.has(turn.url)) {
          buffers.set(
            turn.url,
            fetch(turn.url)
              .then((r) => r.arrayBuffer())
              .then((data) => audioCtx.decodeAudioData(data)),
          );
        }
      }
    }
  }

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
    if (pollTimer !== null) clearInterval(pollTimer);
    pollTimer = null;
    stopAudio();
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
      tile("spaces/sim/devices/self-" + guestId, myName),
    ]);
    const leave = el("button", { type: "button", "aria-label": "Leave call", text: "Leave" });
    leave.addEventListener("click", leaveCall);
    show(
      el("div", { class: "call" }, [
        tiles,
        el("div", { role: "toolbar", "aria-label": "Call controls" }, [
          el("button", { type: "button", "aria-label": "Turn off microphone", text: "Mic" }),
          el("button", { type: "button", "aria-label": "People", text: "People" }),
          el("button", { type: "button", "aria-label": "Chat with everyone", text: "Chat" }),
          leave,
        ]),
      ]),
    );
    startAudio(state);
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
    if (phase !== "call" || scenarioZero === null) return;
    const now = audioCtx.currentTime - scenarioZero;
    for (const node of root.querySelectorAll("[data-participant-id]")) {
      const id = node.getAttribute("data-participant-id");
      const speaking = scheduledTurns.some(
        (turn) => turn.participantId === id && now >= turn.at && now < turn.end,
      );
      const indicator = node.querySelector(".indicator");
      indicator.classList.toggle(SPEAKING_CLASS, speaking);
      indicator.classList.toggle(SILENT_CLASS, !speaking);
    }
  }

  async function connectLoopback(streams) {
    const sender = new RTCPeerConnection();
    const receiver = new RTCPeerConnection();
    sender.addEventListener("icecandidate", (e) => e.candidate && receiver.addIceCandidate(e.candidate));
    receiver.addEventListener("icecandidate", (e) => e.candidate && sender.addIceCandidate(e.candidate));
    receiver.addEventListener("track", (event) => {
      const audio = el("audio", { autoplay: "" });
      audio.srcObject = new MediaStream([event.track]);
      document.body.appendChild(audio);
      audio.play().catch(() => {});
    });
    for (const stream of streams) sender.addTrack(stream.getAudioTracks()[0], stream);
    const offer = await sender.createOffer();
    await sender.setLocalDescription(offer);
    await receiver.setRemoteDescription(offer);
    const answer = await receiver.createAnswer();
    await receiver.setLocalDescription(answer);
    await sender.setRemoteDescription(answer);
    // "Media is up" means the transport is connected (ICE + DTLS), not just negotiated:
    // speech played before that would be lost on the way.
    await new Promise((resolve) => {
      const done = () => receiver.connectionState === "connected" && resolve();
      receiver.addEventListener("connectionstatechange", done);
      done();
      setTimeout(resolve, 10000);
    });
    return { sender, receiver };
  }

  async function startAudio(state) {
    await audioCtx.resume();
    const destinations = [];
    for (let i = 0; i < TRACK_COUNT; i++) destinations.push(audioCtx.createMediaStreamDestination());
    loopback = await connectLoopback(destinations.map((d) => d.stream));
    // The scenario clock starts once the media connection is up (the server decides, for the
    // first admitted guest); it says how long ago that was.
    state = await (
      await fetch(api + "/ready", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ guest_id: guestId }),
      })
    ).json();
    while (state.started_at === null) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      state = await (await fetch(api + "/state?guest=" + encodeURIComponent(guestId))).json();
    }
    if (phase !== "call") return;
    scenarioZero = audioCtx.currentTime - Math.max(0, state.now - state.started_at);
    const turns = [];
    for (const participant of state.participants) {
      for (const turn of participant.turns) {
        turns.push({ participantId: participant.participant_id, url: turn.url, at: turn.at_s });
      }
    }
    turns.sort((a, b) => a.at - b.at);
    // Like Meet, a small fixed set of tracks is re-assigned to whoever speaks next.
    const freeAt = new Array(TRACK_COUNT).fill(-Infinity);
    for (const turn of turns) {
      const buffer = await buffers.get(turn.url);
      let track = freeAt.findIndex((t) => t <= turn.at);
      if (track < 0) track = freeAt.indexOf(Math.min(...freeAt));
      freeAt[track] = turn.at + buffer.duration;
      const source = audioCtx.createBufferSource();
      source.buffer = buffer;
      source.connect(destinations[track]);
      const when = scenarioZero + turn.at;
      const late = audioCtx.currentTime - when;
      if (late >= buffer.duration) continue;
      if (late > 0) source.start(audioCtx.currentTime, late);
      else source.start(when);
      scheduledTurns.push({
        participantId: turn.participantId,
        at: turn.at,
        end: turn.at + buffer.duration,
      });
    }
  }

  function stopAudio() {
    if (loopback) {
      loopback.sender.close();
      loopback.receiver.close();
      loopback = null;
    }
    if (audioCtx) audioCtx.close().catch(() => {});
    audioCtx = null;
    scenarioZero = null;
  }

  async function leaveCall() {
    await fetch(api + "/leave", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ guest_id: guestId }),
    });
    finish("left");
  }
})();
