// The meeting page's transcript: a line's time plays its recording from where the line starts.
// `data-seek` is a position in the recording (the capture's clock, which the recording keeps),
// not the wall-clock time shown. Delegated from the document, so lines HTMX swaps in work too.
(function () {
  "use strict";
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.seek");
    if (!button) return;
    const audio = document.querySelector(`audio[data-recording="${button.dataset.recording}"]`);
    if (!audio) return;
    const play = () => {
      audio.currentTime = Number(button.dataset.seek);
      audio.play().catch(() => {}); // a browser may refuse to play; the position is set
    };
    if (audio.readyState >= HTMLMediaElement.HAVE_METADATA) {
      play();
    } else {
      audio.addEventListener("loadedmetadata", play, { once: true });
      audio.preload = "metadata";
      audio.load();
    }
  });
})();
