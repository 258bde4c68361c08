// What every simulated platform page shares: the simulator's page API (join, poll, ready,
// leave), and the participants' speech delivered over a real RTCPeerConnection (a loopback
// inside the page) on a given number of receiver tracks: Meet re-uses three across speakers,
// Teams mixes everybody into one. Each received track plays through an <audio> element whose
// srcObject is its MediaStream, as on the real platforms. Pages keep their own DOM and call
// `VexaSimulator.meeting(root)`; `speaking(participantId)` says whether that participant's
// audio is scheduled to be audible now, so a page can toggle its speaking indicator in time.
(function () {
  "use strict";

  const POLL_MS = 250;

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children || []) node.appendChild(child);
    return node;
  }

  async function connectLoopback(streams) {
    const sender = new RTCPeerConnection();
    const receiver = new RTCPeerConnection();
    sender.addEventListener("icecandidate", (e) => e.candidate && receiver.addIceCandidate(e.candidate));
    receiver.addEventListener("icecandidate", (e) => e.candidate && sender.addIceCandidate(e.candidate));
    const elements = [];
    receiver.addEventListener("track", (event) => {
      const audio = el("audio", { autoplay: "" });
      audio.srcObject = new MediaStream([event.track]);
      document.body.appendChild(audio);
      elements.push(audio);
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
    return { sender, receiver, elements };
  }

  function meeting(root) {
    const api =
      "/simulator/api/meeting/" +
      encodeURIComponent(root.dataset.platform) +
      "/" +
      encodeURIComponent(root.dataset.meetingId);
    const sim = {
      guestId: null,
      audioCtx: null,
      inCall: false,
      pollTimer: null,
      loopback: null,
      wallZero: null, // performance.now() seconds at scenario t=0 (the admission)
      scheduledTurns: [], // {participantId, at, end}
      buffers: new Map(), // url → Promise<AudioBuffer>, for the turns due soon
      audioRun: null, // the current media connection's scheduler
    };

    // Speech is decoded and scheduled shortly before it is due, not all at once: an hour of
    // scripted speech decoded up front held about 400 MB of AudioBuffers in the renderer the
    // bot runs in, which then counted as the bot's memory (bench/soak.py).
    const AHEAD_S = 10;
    // People speak on the wall clock. This page's AudioContext clock loses time where the host is
    // busy (by 0.1-4 % at four meetings on 2 cores, and whole seconds in a stall), so a turn is
    // placed on it only this shortly before it is due, from the wall clock's scenario time.
    const SCHEDULE_AHEAD_S = 1;
    const SCHEDULE_EVERY_MS = 250;
    // A turn placed on the clock and not started yet is placed again where the clock has since
    // lost more than this against the wall clock: a stall after the placing (a suspended or
    // starved audio thread) delayed the turn by the whole stall.
    const RETIME_AFTER_S = 0.05;

    // Scenario seconds on the wall clock (null before the scenario clock starts).
    function scenarioClock() {
      if (!sim.inCall || sim.wallZero === null) return null;
      return performance.now() / 1000 - sim.wallZero;
    }

    function load(url) {
      if (!sim.buffers.has(url)) {
        const buffer = fetch(url)
          .then((r) => {
            if (!r.ok) throw new Error("speech " + r.status);
            return r.arrayBuffer();
          })
          .then((data) => sim.audioCtx.decodeAudioData(data));
        // A fetch that failed (the server restarting) is made again at the next scheduling
        // tick; kept, it held back this turn and every turn after it for the rest of the call.
        buffer.catch(() => {
          if (sim.buffers.get(url) === buffer) sim.buffers.delete(url);
        });
        sim.buffers.set(url, buffer);
      }
      return sim.buffers.get(url);
    }

    function post(path, body) {
      return fetch(api + path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    }

    // The poll leaves out the participants' turns (an hour of speech is ~50 KB a poll); the
    // audio scheduling asks for them.
    async function fetchState(withTurns) {
      const query = "/state?guest=" + encodeURIComponent(sim.guestId) + (withTurns ? "&turns=1" : "");
      return (await fetch(api + query)).json();
    }

    // Call inside the join button's click handler: the AudioContext is created there so that
    // autoplay rules let it run. Resolves to the first state, or null when the server refused
    // (its reason in `sim.refusal`). `extra` goes with the name (the passcode).
    sim.join = async function (name, extra) {
      sim.audioCtx = new AudioContext();
      const response = await post("/join", { name: name, ...(extra || {}) });
      if (!response.ok) {
        sim.refusal = await response.json().then((body) => body.detail, () => null);
        return null;
      }
      const state = await response.json();
      sim.guestId = state.guest.guest_id;
      for (const participant of state.participants) {
        for (const turn of participant.turns) {
          if (turn.at_s < AHEAD_S) load(turn.url); // ready when the bot is let in
        }
      }
      return state;
    };

    sim.poll = function (onState) {
      const timer = setInterval(async () => {
        try {
          const state = await fetchState();
          // A poll answered after polling stopped was asked before the page left (or the call
          // ended): showing it would put the page back in the call, which Meet never does.
          if (sim.pollTimer !== timer) return;
          if (sim.chatShow && state.chat) sim.chatShow(state.chat);
          onState(state);
        } catch (_err) {
          // A missed poll is retried at the next tick.
        }
      }, POLL_MS);
      sim.pollTimer = timer;
    };

    sim.stopPolling = function () {
      if (sim.pollTimer !== null) clearInterval(sim.pollTimer);
      sim.pollTimer = null;
    };

    // Connect the media, tell the server (the scenario clock starts then), and schedule every
    // turn on `trackCount` tracks, a free one first, else the one free soonest.
    sim.startAudio = async function (trackCount) {
      sim.inCall = true;
      const ctx = sim.audioCtx;
      await ctx.resume();
      const destinations = [];
      for (let i = 0; i < trackCount; i++) destinations.push(ctx.createMediaStreamDestination());
      // A participant's microphone sends frames all the time, silence included. A destination
      // whose graph has nothing playing sends none, and the bot's WebRTC receiver takes each
      // gap for loss: it conceals, then slows playback to grow its jitter buffer, so after a
      // few turns with pauses the speech reached the bot 0.7-0.9 s after it was spoken (and
      // after the speaking indicator). A silent constant source keeps every track flowing.
      const floor = ctx.createConstantSource();
      floor.offset.value = 0;
      for (const destination of destinations) floor.connect(destination);
      floor.start();
      sim.loopback = await connectLoopback(destinations.map((d) => d.stream));
      let state = await (await post("/ready", { guest_id: sim.guestId })).json();
      while (state.started_at === null) {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        state = await fetchState(true);
      }
      if (!sim.inCall) return;
      sim.wallZero = performance.now() / 1000 - Math.max(0, state.now - state.started_at);
      const turns = [];
      for (const participant of state.participants) {
        for (const turn of participant.turns) {
          turns.push({ participantId: participant.participant_id, url: turn.url, at: turn.at_s });
        }
      }
      turns.sort((a, b) => a.at - b.at);
      const lastUse = new Map(turns.map((turn, index) => [turn.url, index]));
      const freeAt = new Array(trackCount).fill(-Infinity);
      const run = { next: 0, busy: false, timer: null, waiting: [] };
      if (sim.audioRun) clearInterval(sim.audioRun.timer);
      sim.audioRun = run;

      // Starts `entry.turn` where the wall clock says it is due: later on this clock, or part
      // way into its speech where it is late already. False when its speech is over.
      function place(entry) {
        const late = scenarioClock() - entry.turn.at;
        if (late >= entry.buffer.duration) return false;
        const source = ctx.createBufferSource();
        source.buffer = entry.buffer;
        source.connect(destinations[entry.track]);
        entry.startsAt = ctx.currentTime + Math.max(0, -late);
        source.start(entry.startsAt, Math.max(0, late));
        entry.source = source;
        return true;
      }

      // Places again every waiting turn whose start this clock has moved off the wall clock.
      function retime() {
        const now = scenarioClock();
        run.waiting = run.waiting.filter((entry) => {
          if (ctx.currentTime >= entry.startsAt) return false;
          const drift = ctx.currentTime + (entry.turn.at - now) - entry.startsAt;
          if (Math.abs(drift) <= RETIME_AFTER_S) return true;
          entry.source.stop();
          entry.source.disconnect();
          return place(entry);
        });
      }

      // Schedules every turn due within SCHEDULE_AHEAD_S (and fetches the ones due within
      // AHEAD_S); runs again every SCHEDULE_EVERY_MS until every turn has started or this media
      // connection is gone. Nothing is placed while the clock is stopped (a suspended context):
      // its time would be off by the rest of the stall.
      async function scheduleDue() {
        if (run.busy || ctx.state !== "running") return;
        run.busy = true;
        try {
          retime();
          while (run.next < turns.length && sim.audioRun === run) {
            const now = scenarioClock();
            for (let i = run.next; i < turns.length && turns[i].at < now + AHEAD_S; i++) {
              load(turns[i].url);
            }
            const turn = turns[run.next];
            if (turn.at > now + SCHEDULE_AHEAD_S) break;
            const buffer = await load(turn.url);
            if (sim.audioRun !== run) return;
            if (lastUse.get(turn.url) === run.next) sim.buffers.delete(turn.url);
            run.next += 1;
            let track = freeAt.findIndex((t) => t <= turn.at);
            if (track < 0) track = freeAt.indexOf(Math.min(...freeAt));
            freeAt[track] = turn.at + buffer.duration;
            const entry = { turn: turn, buffer: buffer, track: track };
            if (!place(entry)) continue;
            run.waiting.push(entry);
            sim.scheduledTurns.push({
              participantId: turn.participantId,
              at: turn.at,
              end: turn.at + buffer.duration,
            });
          }
          const done = run.next >= turns.length && run.waiting.length === 0;
          if (done || sim.audioRun !== run) clearInterval(run.timer);
        } finally {
          run.busy = false;
        }
      }
      await scheduleDue();
      if ((run.next < turns.length || run.waiting.length > 0) && sim.audioRun === run) {
        run.timer = setInterval(scheduleDue, SCHEDULE_EVERY_MS);
      }
    };

    // Scenario seconds now (null before the scenario clock starts).
    sim.scenarioNow = scenarioClock;

    // Whether the participant's audio is audible now (false before the scenario clock starts).
    sim.speaking = function (participantId) {
      const now = scenarioClock();
      if (now === null) return false;
      return sim.scheduledTurns.some(
        (turn) => turn.participantId === participantId && now >= turn.at && now < turn.end,
      );
    };

    // The call's audio goes away (Zoom dropping computer audio) while the call goes on:
    // `startAudio` connects it again, the turns resuming where the scenario clock is.
    function endScheduling() {
      if (sim.audioRun) clearInterval(sim.audioRun.timer);
      sim.audioRun = null;
    }

    sim.dropAudio = function () {
      endScheduling();
      if (sim.loopback) {
        sim.loopback.sender.close();
        sim.loopback.receiver.close();
        for (const audio of sim.loopback.elements) audio.remove();
        sim.loopback = null;
      }
    };

    sim.stopAudio = function () {
      endScheduling();
      sim.inCall = false;
      if (sim.loopback) {
        sim.loopback.sender.close();
        sim.loopback.receiver.close();
        sim.loopback = null;
      }
      if (sim.audioCtx) sim.audioCtx.close().catch(() => {});
      sim.audioCtx = null;
      sim.wallZero = null;
    };

    // The meeting's chat as a guest sees it: `opener` shows and hides a panel whose message box
    // (a textarea, or a contenteditable element where the client has a rich-text editor)
    // posts on Enter or with `send` (optional); a posted message goes to the server, where
    // the host sees it with the guest's name. The panel lists the chat the server shows this
    // guest, each message once, in the platform's markup `look`: consecutive messages of one
    // sender share a group under one header naming them (`look.self` for the guest's own,
    // no header where it is null), each message's text in its own element. A box already
    // inside an editor's wrapper goes in with it.
    sim.chatPanel = function (opener, box, send, look) {
      const list = el("div", look.list);
      const holder = box.parentElement || box;
      const panel = el("div", { class: "chat-panel" }, [list, holder].concat(send ? [send] : []));
      panel.hidden = true;
      opener.addEventListener("click", () => {
        panel.hidden = !panel.hidden;
      });
      const shown = new Set();
      let lastSender = null;
      let lastGroup = null;
      sim.chatShow = function (messages) {
        for (const message of messages) {
          if (shown.has(message.id)) continue;
          shown.add(message.id);
          const own = message.guest_id === sim.guestId;
          const sender = own ? look.self : message.sender;
          const key = own ? "\u0000own" : message.sender;
          if (key !== lastSender || lastGroup === null) {
            const name = sender === null ? [] : [el(look.senderTag || "div", { ...look.sender, text: sender })];
            const header = el("div", look.header, name);
            lastGroup = el("div", look.group, [header]);
            list.appendChild(lastGroup);
            lastSender = key;
          }
          const text = el("div", look.text, [el("div", { text: message.text })]);
          // Meet puts a "pin it" hint beside each message's text: not part of the message.
          const hint = look.hint ? [el("div", { class: look.hint.class, text: look.hint.text })] : [];
          lastGroup.appendChild(el("div", {}, [text].concat(hint)));
        }
      };
      const typed = () => ("value" in box ? box.value : box.innerText).trim();
      async function postMessage() {
        const text = typed();
        if (!text || sim.guestId === null) return;
        const response = await post("/chat", { guest_id: sim.guestId, text: text });
        if (!response.ok) return; // left in the box, as a client that could not send
        sim.chatShow([await response.json()]);
        if ("value" in box) box.value = "";
        else box.textContent = "";
      }
      box.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey) {
          event.preventDefault();
          postMessage();
        }
      });
      if (send) send.addEventListener("click", postMessage);
      return panel;
    };

    sim.leave = function () {
      return post("/leave", { guest_id: sim.guestId });
    };

    return sim;
  }

  window.VexaSimulator = { el: el, meeting: meeting };
})();
