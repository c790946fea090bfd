// The lobby's voice: a queue of spoken calls, each after a two-tone chime, never cut off.
//
//   const voice = createAnnouncer({ repeat: 2, chime: true, lang: "zh-CN", rate: 0.9, onGate });
//   voice.announce("请A023号到5号窗口");   // queued; spoken when everything before it has finished
//   voice.unlock();                         // from a click: lets the browser play sound from now on
//
// Why a queue of our own rather than the browser's: we need the chime between calls, the repeat, and a
// guarantee that one call never interrupts another (speechSynthesis.cancel() is never used). A call goes
// on only after the previous utterance's onend, or after a safety timeout when a voice never reports its
// end (some engines lose onend), so one silent failure cannot stall every later call.
//
// Browsers keep sound off until someone touches the page. The AudioContext's state says whether that has
// happened (a kiosk started with an autoplay flag is "running" at once); ``onGate(true)`` asks the page to
// show its "click to enable" button and ``onGate(false)`` to hide it. Speech is attempted either way: a
// browser that still refuses just reports an error, and the queue moves on.

const CHIME_MS = 1300; // the ding-dong's length; speech starts after it, never waits longer

export function createAnnouncer({
  repeat = 2, chime = true, lang = "zh-CN", rate = 0.9, gapMs = 400, safetyMs = 8000, onGate = () => {},
} = {}) {
  const queue = [];
  let busy = false;
  const audio = makeContext();
  let locked = audioLocked(audio);

  const setLocked = (value) => {
    if (value === locked) return;
    locked = value;
    onGate(locked);
  };
  if (audio) audio.onstatechange = () => setLocked(audioLocked(audio));

  async function pump() {
    if (busy || !queue.length) return;
    busy = true;
    const text = queue.shift();
    try {
      if (chime) await dingDong(audio);
      for (let i = 0; i < repeat; i += 1) {
        if (i > 0) await sleep(gapMs);
        await say(text);
      }
      await sleep(gapMs);
    } finally {
      busy = false;
      pump();
    }
  }

  function say(text) {
    return new Promise((resolve) => {
      const synth = window.speechSynthesis;
      if (!synth || typeof SpeechSynthesisUtterance === "undefined") { resolve(); return; }
      const utterance = new SpeechSynthesisUtterance(text);
      utterance.lang = lang;
      utterance.rate = rate;
      const voice = pickVoice(synth, lang);
      if (voice) utterance.voice = voice;
      let timer = null;
      const done = () => { clearTimeout(timer); utterance.onend = utterance.onerror = null; resolve(); };
      utterance.onend = done;
      utterance.onerror = done; // "not-allowed" before a click, or no voice: go on with the next call
      timer = setTimeout(done, safetyMs);
      try { synth.speak(utterance); } catch { done(); }
    });
  }

  return {
    /** Queue ``text``; an identical call still waiting its turn is not queued twice. */
    announce(text) {
      if (!text || queue.includes(text)) return;
      queue.push(text);
      pump();
    },
    /** Call from a user gesture (click, key): resumes the audio context so chimes and speech may play. */
    unlock() {
      if (audio && audio.state !== "running") {
        audio.resume().then(() => setLocked(audioLocked(audio)), () => {});
      } else {
        setLocked(false);
      }
    },
    get locked() { return locked; },
    get pending() { return queue.length + (busy ? 1 : 0); },
  };
}

function makeContext() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return null;
  try { return new Context(); } catch { return null; }
}

/** True while the browser still holds sound back for want of a user gesture. */
function audioLocked(audio) {
  if (audio) return audio.state !== "running";
  // No Web Audio at all: fall back on the page's own record of a gesture, if the browser keeps one.
  return navigator.userActivation ? !navigator.userActivation.hasBeenActive : false;
}

/** The classic hall "ding-dong": a high then a low sine tone with a bell-like decay. */
async function dingDong(audio) {
  if (!audio || audio.state !== "running") return; // suspended: no chime, and no waiting for one
  try {
    const start = audio.currentTime + 0.02;
    tone(audio, 659.25, start, 0.6); // E5
    tone(audio, 523.25, start + 0.45, 0.85); // C5
  } catch {
    return; // a broken audio device must never hold up the call itself
  }
  await sleep(CHIME_MS);
}

function tone(audio, frequency, start, length) {
  const oscillator = audio.createOscillator();
  const gain = audio.createGain();
  oscillator.type = "sine";
  oscillator.frequency.value = frequency;
  gain.gain.setValueAtTime(0.0001, start);
  gain.gain.exponentialRampToValueAtTime(0.3, start + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.0001, start + length);
  oscillator.connect(gain).connect(audio.destination);
  oscillator.start(start);
  oscillator.stop(start + length + 0.05);
}

/** The system's voice for exactly this language (Android writes zh_CN); none: the browser picks by ``lang``,
 *  which is safer than guessing a relative (a zh-HK voice would read the call in Cantonese). */
function pickVoice(synth, lang) {
  const voices = synth.getVoices ? synth.getVoices() : [];
  return voices.find((v) => (v.lang ?? "").replace("_", "-").toLowerCase() === lang.toLowerCase()) ?? null;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
