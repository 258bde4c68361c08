// The bot's page script: captures the meeting's remote audio and hands it to the bot process.
//
// Added with `context.add_init_script`, so it runs before the platform's own scripts. It hooks
// RTCPeerConnection to take every remote audio track from its "track" event (a track is NOT a
// participant: Meet re-assigns a few tracks to whoever speaks), and also picks up remote
// streams already attached to media elements (platforms that play one mixed stream). After
// `__vexaCapture.start()` (called at admission) it mixes every track, present and future, with
// WebAudio at 16 kHz mono, and an AudioWorklet cuts the mix into 100 ms int16 chunks, each sent
// as ONE base64 string through the `__vexaAudioChunk(b64, firstSample)` binding (CDP, no
// network). Time is counted in samples from the capture's start, never read from the wall clock;
// the wall clock only detects a stalled audio clock, whose lost time becomes a jump in t.
(() => {
  "use strict";
  if (window.__vexaCapture) return;

  const SAMPLE_RATE = 16000;
  const CHUNK_SAMPLES = 1600;
  const BINDING = "__vexaAudioChunk";
  const tracks = new Map(); // track id → {track, stream, player, source}
  let ctx = null;
  let mixBus = null;
  let firstFrame = null;
  let chunks = 0;
  let scanTimer = null;
  let lastRms = 0;
  // Samples the audio clock did not produce (the context was stalled or suspended): added to
  // every later timestamp so that lost audio shows as a jump in t, never as shifted speech.
  let gapSamples = 0;
  let lastSkew = null;
  const STALL_S = 0.5;

  const NativePeerConnection = window.RTCPeerConnection;
  if (NativePeerConnection) {
    class CapturingPeerConnection extends NativePeerConnection {
      constructor(...args) {
        super(...args);
        this.addEventListener("track", (event) => {
          if (event.track && event.track.kind === "audio") addTrack(event.track);
        });
      }
    }
    window.RTCPeerConnection = CapturingPeerConnection;
    if (window.webkitRTCPeerConnection) window.webkitRTCPeerConnection = CapturingPeerConnection;
  }

  function addTrack(track) {
    if (tracks.has(track.id) || track.readyState === "ended") return;
    const stream = new MediaStream([track]);
    // A remote WebRTC track is silent in WebAudio unless it also plays through a media element.
    const player = new Audio();
    player.muted = true;
    player.srcObject = stream;
    player.play().catch(() => {});
    const entry = { track, stream, player, source: null };
    tracks.set(track.id, entry);
    track.addEventListener("ended", () => {
      if (entry.source) entry.source.disconnect();
      player.srcObject = null;
      tracks.delete(track.id);
    });
    if (ctx) connect(entry);
  }

  function connect(entry) {
    if (entry.source || !ctx || !mixBus) return;
    entry.source = ctx.createMediaStreamSource(entry.stream);
    entry.source.connect(mixBus);
  }

  function scanMediaElements() {
    for (const media of document.querySelectorAll("audio, video")) {
      const stream = media.srcObject;
      if (!(stream instanceof MediaStream)) continue;
      for (const track of stream.getAudioTracks()) addTrack(track);
    }
  }

  const WORKLET = `
    class VexaCapture extends AudioWorkletProcessor {
      constructor() {
        super();
        this.buffer = new Int16Array(${CHUNK_SAMPLES});
        this.filled = 0;
        this.emitted = 0;
        this.started = false;
      }
      process(inputs) {
        if (!this.started) {
          this.started = true;
          this.port.postMessage({ type: "start", frame: currentFrame });
        }
        const channel = inputs[0] && inputs[0][0];
        const frames = channel ? channel.length : 128;
        for (let i = 0; i < frames; i++) {
          const v = channel ? Math.max(-1, Math.min(1, channel[i])) : 0;
          this.buffer[this.filled++] = v < 0 ? v * 0x8000 : v * 0x7fff;
          if (this.filled === this.buffer.length) {
            this.port.postMessage({ type: "chunk", first: this.emitted, pcm: this.buffer.buffer },
              [this.buffer.buffer]);
            this.emitted += this.filled;
            this.buffer = new Int16Array(${CHUNK_SAMPLES});
            this.filled = 0;
          }
        }
        return true;
      }
    }
    registerProcessor("vexa-capture", VexaCapture);
  `;

  function toBase64(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  function rms(buffer) {
    const samples = new Int16Array(buffer);
    let sum = 0;
    for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
    return Math.sqrt(sum / Math.max(1, samples.length));
  }

  let starting = null;

  function start() {
    // One start at a time; `ctx` is published only once the graph exists. Tracks that arrive
    // while the worklet module loads (the call's media is often negotiating right then) wait in
    // `tracks` and are connected below: connecting them to a half-built graph left them silent.
    if (!starting) starting = build();
    return starting;
  }

  async function build() {
    const context = new AudioContext({ sampleRate: SAMPLE_RATE });
    const url = URL.createObjectURL(new Blob([WORKLET], { type: "application/javascript" }));
    await context.audioWorklet.addModule(url);
    URL.revokeObjectURL(url);
    mixBus = context.createGain();
    const node = new AudioWorkletNode(context, "vexa-capture", {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      channelCount: 1,
      channelCountMode: "explicit",
      channelInterpretation: "speakers",
    });
    node.port.onmessage = (event) => {
      const message = event.data;
      if (message.type === "start") {
        firstFrame = message.frame;
        return;
      }
      // The audio clock against the wall clock: a slow drift (~0.04 %) re-anchors at every
      // chunk and never adds up; a sudden step means the context stopped producing samples.
      const skew = performance.now() / 1000 - context.currentTime;
      if (lastSkew !== null && skew - lastSkew > STALL_S) {
        gapSamples += Math.round((skew - lastSkew) * SAMPLE_RATE);
      }
      lastSkew = skew;
      chunks += 1;
      lastRms = rms(message.pcm);
      window[BINDING](toBase64(message.pcm), message.first + gapSamples);
    };
    mixBus.connect(node);
    // The worklet is pulled by the graph only when it reaches the destination; keep it silent.
    const mute = context.createGain();
    mute.gain.value = 0;
    node.connect(mute).connect(context.destination);
    ctx = context;
    for (const entry of tracks.values()) connect(entry);
    scanMediaElements();
    scanTimer = setInterval(scanMediaElements, 500);
    await context.resume();
    return true;
  }

  function now() {
    // Seconds on the capture clock: the same clock that stamps the chunks.
    if (!ctx || firstFrame === null) return 0;
    return Math.max(0, ctx.currentTime - firstFrame / SAMPLE_RATE + gapSamples / SAMPLE_RATE);
  }

  async function stop() {
    if (starting) await starting.catch(() => {});
    if (scanTimer !== null) clearInterval(scanTimer);
    scanTimer = null;
    if (ctx) await ctx.close();
    ctx = null;
    mixBus = null;
    starting = null;
    for (const entry of tracks.values()) entry.source = null;
  }

  function stats() {
    return {
      tracks: tracks.size,
      chunks: chunks,
      last_rms: lastRms,
      running: ctx !== null && ctx.state === "running",
      gap_s: gapSamples / SAMPLE_RATE,
      now: now(),
    };
  }

  Object.defineProperty(window, "__vexaCapture", {
    value: Object.freeze({ start, stop, now, stats }),
    enumerable: false,
  });
})();
