// The live meeting page. It follows the meeting's events (Server-Sent Events from
// /dashboard/meetings/<id>/events, the WebSocket API's messages) and applies each transcript
// segment in place by segment id as it is published: a draft, then its final, in the same line.
// A message posted in the meeting's chat joins the chat's list, and people coming and going the
// attendance list. A status change fetches the #live fragment again (status, stop button,
// recordings). While the feed is down it polls that fragment every 2 s; EventSource reconnects
// with Last-Event-ID, so the feed itself loses nothing.
(function () {
  "use strict";
  const script = document.currentScript;
  const pageUrl = script.dataset.page;
  const after = script.dataset.after;
  // How long the feed stays open after the meeting ended: the worker still finalises the tail
  // and joins the fragments into sentences for a few seconds.
  const TAIL_MS = 120000;

  // Python's isoformat has microseconds; Date.parse is only specified for milliseconds.
  const ms = (iso) => Date.parse(String(iso).replace(/(\.\d{3})\d+/, "$1"));
  const clock = (iso) => new Date(ms(iso)).toISOString().slice(11, 19);

  let pending = null;
  function refresh() {
    if (pending) return;
    pending = setTimeout(() => {
      pending = null;
      htmx.ajax("GET", pageUrl, { target: "#live", swap: "outerHTML" });
    }, 200);
  }

  function line(segment) {
    const item = document.createElement("li");
    item.id = "seg-" + segment.segment_id;
    const stamp = document.createElement("span");
    stamp.className = "muted";
    const sep = document.createElement("span");
    sep.className = "sep";
    sep.textContent = ": ";
    const text = document.createElement("span");
    text.className = "text";
    item.append(stamp, " ", document.createElement("strong"), sep, text);
    return item;
  }

  // A segment of the same speaker as the one before it continues that line (app.css).
  function continues(item) {
    if (!item) return;
    const before = item.previousElementSibling;
    item.classList.toggle("cont", !!before && before.dataset.speaker === item.dataset.speaker);
  }

  // The rename form offers every speaker heard so far, the new ones too.
  function offer(speaker) {
    const seen = document.getElementById("speakers-seen");
    if (!seen || Array.from(seen.options).some((option) => option.value === speaker)) return;
    const option = document.createElement("option");
    option.value = speaker;
    seen.append(option);
  }

  function apply(segment) {
    const live = document.getElementById("live");
    const list = live && live.querySelector("ol.transcript");
    if (!list || !live.dataset.live) {
      refresh(); // the fragment shows whole utterances now: render it again from the server
      return;
    }
    let item = document.getElementById("seg-" + segment.segment_id);
    if (item && ms(segment.updated_at) < ms(item.dataset.updated)) return; // older than shown
    if (!segment.completed && !segment.text.trim()) {
      if (item) {
        const after = item.nextElementSibling;
        item.remove(); // a draft that vanished, or a fragment joined into its sentence
        continues(after);
      }
      return;
    }
    if (!item) {
      item = line(segment);
      const start = ms(segment.absolute_start_time);
      let before = null;
      for (let other = list.lastElementChild; other && ms(other.dataset.start) > start;
           other = other.previousElementSibling) {
        before = other;
      }
      list.insertBefore(item, before);
      const placeholder = document.getElementById("no-transcript");
      if (placeholder) placeholder.remove();
    }
    item.dataset.start = segment.absolute_start_time;
    item.dataset.updated = segment.updated_at;
    item.classList.toggle("draft", !segment.completed);
    item.querySelector(".muted").textContent = clock(segment.absolute_start_time);
    item.querySelector("strong").textContent = segment.speaker || "Unknown";
    item.querySelector(".text").textContent = segment.text;
    item.dataset.speaker = segment.speaker || "Unknown";
    offer(item.dataset.speaker);
    continues(item);
    continues(item.nextElementSibling);
  }

  // A browser opens at most six HTTP/1.1 connections to one server, and each open feed holds
  // one: a hidden tab closes its feed and resumes it (after the last event it had) when shown.
  let lastId = after || "0-0";
  let source = null;
  let poll = null;
  let ended = false;
  const stopPolling = () => {
    if (poll) clearInterval(poll);
    poll = null;
  };
  const segments = (event) => {
    lastId = event.lastEventId || lastId;
    JSON.parse(event.data).payload.segments.forEach(apply);
  };

  // A list section of the fragment (hidden while empty) takes one more line, and counts it.
  function listIn(section, item) {
    const list = section.querySelector("ul");
    list.append(item);
    section.querySelector(".count").textContent = String(list.children.length);
    section.hidden = false;
  }

  // Appended, not fetched with the fragment: that would wipe a message being typed below.
  function chat(event) {
    lastId = event.lastEventId || lastId;
    const message = JSON.parse(event.data).payload;
    const section = document.getElementById("meeting-chat");
    if (!section) return;
    const item = document.createElement("li");
    const sender = document.createElement("strong");
    sender.textContent = message.sender;
    const stamp = document.createElement("span");
    stamp.className = "muted";
    stamp.textContent = clock(message.timestamp);
    const text = document.createElement("span");
    text.style.whiteSpace = "pre-wrap";
    text.textContent = message.text;
    item.append(sender, " ", stamp, " ", text);
    listIn(section, item);
  }

  // Who comes and goes joins the attendance list, or has their stay there ended. Names are the
  // platform's: a renamed speaker's line carries the name they are on the call as.
  function attendance(event) {
    lastId = event.lastEventId || lastId;
    const person = JSON.parse(event.data).payload;
    const section = document.getElementById("attendance");
    if (!section) return;
    const stays = Array.from(section.querySelectorAll("li")).filter(
      (item) => item.dataset.onCall === person.name && item.dataset.here,
    );
    if (event.type === "participant.left") {
      for (const item of stays) {
        item.querySelector(".until").textContent = clock(person.timestamp);
        delete item.dataset.here;
      }
      return;
    }
    if (stays.length) return; // already listed as here
    const item = document.createElement("li");
    item.dataset.onCall = person.name;
    item.dataset.here = "1";
    const name = document.createElement("strong");
    name.textContent = person.name;
    const times = document.createElement("span");
    times.className = "muted";
    const until = document.createElement("span");
    until.className = "until";
    until.textContent = "now";
    times.append(clock(person.timestamp) + "\u2013", until);
    item.append(name, " ", times);
    listIn(section, item);
  }

  function connect() {
    source = new EventSource(script.dataset.events + "?last_event_id=" + encodeURIComponent(lastId));
    source.onopen = stopPolling;
    source.onerror = (event) => {
      if (event.data) {
        lastId = event.lastEventId || lastId;
        refresh(); // the server's `error` event: the log no longer reaches back that far
      } else if (!poll) {
        poll = setInterval(refresh, 2000);
      }
    };
    source.addEventListener("transcript.mutable", segments);
    source.addEventListener("transcript.finalized", segments);
    source.addEventListener("chat.message", chat);
    source.addEventListener("participant.joined", attendance);
    source.addEventListener("participant.left", attendance);
    source.addEventListener("meeting.status", (event) => {
      lastId = event.lastEventId || lastId;
      refresh();
      if (!ended && ["completed", "failed"].includes(JSON.parse(event.data).payload.status)) {
        ended = true;
        setTimeout(disconnect, TAIL_MS);
      }
    });
  }

  function disconnect() {
    if (source) source.close();
    source = null;
    stopPolling();
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      disconnect();
    } else if (!source && !ended) {
      connect();
    } else if (!source) {
      refresh(); // over meanwhile: the fragment as the server has it now
    }
  });
  connect();
})();
