// The lobby's voice: a queue of spoken calls, each after a two-tone chime, never cut off; and whether this device
// can speak Chinese at all.
//
//   const voice = createAnnouncer({ repeat: 2, chime: true, lang: "zh-CN", rate: 0.9, onGate, onVoice });
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
//
// Many lobby TV boxes have no Chinese voice: the browser then says nothing, or reads the call in a voice that
// cannot. ``onVoice({voice, speaking, problem, detail})`` tells the page what this device can do, once it is known
// and whenever it changes: ``problem`` is "no_speech" (no speech synthesis at all), "no_zh_voice" (no zh-CN voice
// once the browser has listed its voices, or after ``voiceWaitMs``: some never say they have) or "speech_error"
// (an utterance failed, ``detail`` the browser's error), else null and ``speaking`` true. Calls are still
// attempted whatever it says: a device that finds its voice later speaks from then on.

const CHIME_MS = 1300; // the ding-dong's length; speech starts after it, never waits longer
// Errors that say nothing about the voice: a call given up on purpose, or sound held back until a click (the gate).
const NOT_A_VOICE_FAULT = new Set(["interrupted", "canceled", "not-allowed"]);

export function createAnnouncer({
  repeat = 2, chime = true, lang = "zh-CN", rate = 0.9, gapMs = 400, safetyMs = 8000, onGate = () => {},
  onVoice = () => {}, voiceWaitMs = 3000,
} = {}) {
  const queue = [];
  let busy = false;
  const audio = makeContext();
  let locked = audioLocked(audio);
  let health = null; // what onVoice last said; null until it is known
  let failure = null; // the last utterance's error, until one is spoken through
  let listed = false; // the browser has listed its voices (voiceschanged), or we stopped waiting for it

  const setLocked = (value) => {
    if (value === locked) return;
    locked = value;
    onGate(locked);
  };
  if (audio) audio.onstatechange = () => setLocked(audioLocked(audio));

  /** Work out what this device can say and tell the page when that changed. */
  function checkVoice() {
    const synth = window.speechSynthesis;
    let next;
    if (!synth || typeof SpeechSynthesisUtterance === "undefined") {
      next = { voice: null, speaking: false, problem: "no_speech", detail: null };
    } else {
      const voice = pickVoice(synth, lang);
      if (!voice && !listed) return; // the list may still be on its way: no verdict yet
      if (!voice) next = { voice: null, speaking: false, problem: "no_zh_voice", detail: null };
      else if (failure) next = { voice: voice.name, speaking: false, problem: "speech_error", detail: failure };
      else next = { voice: voice.name, speaking: true, problem: null, detail: null };
    }
    if (health && ["voice", "speaking", "problem", "detail"].every((k) => health[k] === next[k])) return;
    health = next;
    onVoice({ ...health });
  }

  const synth = window.speechSynthesis;
  if (synth) {
    // A voice installed or loaded late counts from then on; the first list ends the wait at once.
    const listedNow = () => { listed = true; checkVoice(); };
    if (synth.addEventListener) synth.addEventListener("voiceschanged", listedNow);
    else synth.onvoiceschanged = listedNow;
  }
  setTimeout(() => { listed = true; checkVoice(); }, voiceWaitMs);
  queueMicrotask(checkVoice); // after the caller holds the announcer: a voice listed already is known at once

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
      utterance.onend = () => {
        if (failure) { failure = null; checkVoice(); } // spoken through: whatever failed before has passed
        done();
      };
      utterance.onerror = (event) => { // "not-allowed" before a click, or no voice: go on with the next call
        const error = event?.error || "unknown";
        if (!NOT_A_VOICE_FAULT.has(error)) { failure = error; checkVoice(); }
        done();
      };
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
    /** What onVoice last said (null until known). */
    get voice() { return health ? { ...health } : null; },
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

/** The system's voice for Mainland Mandarin: exactly this language first (Android writes zh_CN), then the other
 *  tags engines give it (cmn-CN, zh-Hans-CN). None: the browser picks by ``lang``, which is safer than guessing a
 *  relative (a zh-HK voice would read the call in Cantonese), and the page is told there is no Chinese voice. */
function pickVoice(synth, lang) {
  const voices = (synth.getVoices ? synth.getVoices() : null) ?? [];
  const tag = (v) => (v.lang ?? "").replace(/_/g, "-").toLowerCase();
  const wanted = lang.toLowerCase();
  return voices.find((v) => tag(v) === wanted)
    ?? (wanted === "zh-cn" ? voices.find((v) => /^(zh|cmn)(-hans)?-cn$/.test(tag(v))) : null)
    ?? null;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
