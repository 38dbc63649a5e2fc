// The help button on someone else's page. The host adds one async script tag, with settings set
// before it loads:
//
//   <script>
//     window.videoassistSettings = { topic: "setup", position: "bottom-right", label: "Help" };
//     window.videoassist = window.videoassist || function () {
//       (window.videoassist.q = window.videoassist.q || []).push(arguments);
//     };
//   </script>
//   <script async src="https://help.example.com/static/sdk/help.js"></script>
//
// and may call videoassist("open"), ("close"), ("setUser", jwt), ("setTopic", id),
// ("setContext", {orderId: "A-1", device: "X200"}: up to 10 small string key/values shown to the
// agent), ("reset"),
// ("on", "ready" | "state", fn) at any time: calls made before the script is ready are queued
// and take effect once it is. The call itself runs in an iframe served by the help server;
// messages between this page and the iframe use postMessage with the exact origin on both
// sides, and messages from any other origin are ignored. The button lives in a shadow root,
// so the host's styles and ours do not leak into each other.
(() => {
  const script = document.currentScript;
  if (!script || window.videoassist && window.videoassist.loaded) return;
  const settings = Object.assign({}, window.videoassistSettings || {});
  const server = new URL(settings.server || script.src).origin;
  const OPEN_KEY = "videoassist.open"; // a reload of the host page reopens an ongoing request

  const listeners = { ready: [], state: [] };
  const state = {
    frame: null, panel: null, user: settings.user || null, topic: settings.topic || "",
    context: cleanContext(settings.context), open: false,
  };

  // Up to 10 keys of letters, digits, _ . - (40 at most) with string values (200 at most), as
  // the server accepts them; anything else is left out here rather than refused there.
  function cleanContext(context) {
    if (!context || typeof context !== "object") return null;
    const out = {};
    for (const [key, value] of Object.entries(context).slice(0, 10)) {
      if (/^[A-Za-z0-9_.-]{1,40}$/.test(key) && (typeof value === "string" || typeof value === "number")) {
        out[key] = String(value).slice(0, 200);
      }
    }
    return Object.keys(out).length ? out : null;
  }

  function configure() {
    send({ type: "configure", user: state.user, topic: state.topic, context: state.context });
  }

  function emit(name, data) {
    for (const fn of listeners[name] || []) {
      try { fn(data); } catch (err) { /* the host's handler failed; ours goes on */ }
    }
  }

  function send(message) {
    if (state.frame && state.frame.contentWindow) {
      state.frame.contentWindow.postMessage({ videoassist: 1, ...message }, server);
    }
  }

  function embedUrl() {
    const url = new URL("/embed", server);
    url.searchParams.set("host", window.location.origin);
    if (settings.language) url.searchParams.set("lang", settings.language);
    return url.toString();
  }

  // --- the button and the panel, in a shadow root

  const host = document.createElement("div");
  host.setAttribute("data-videoassist", "");
  // Open, so that assistive tools and tests can reach the button; styles are isolated all the same.
  const root = host.attachShadow({ mode: "open" });
  const corner = settings.position === "bottom-left" ? "left" : "right";
  const style = document.createElement("style");
  style.textContent = `
    :host { all: initial; }
    .float { position: fixed; bottom: 1.2rem; ${corner}: 1.2rem; z-index: 2147483000; }
    button.help { font: 600 1.05rem system-ui, sans-serif; color: #fff; background: #0b5fff;
      border: 0; border-radius: 999px; padding: 0.8rem 1.4rem; cursor: pointer;
      box-shadow: 0 2px 8px #0004; }
    button.help:focus-visible, button.close:focus-visible { outline: 3px solid #ffbf47; outline-offset: 2px; }
    .panel { position: fixed; bottom: 5rem; ${corner}: 1.2rem; width: min(26rem, calc(100vw - 2.4rem));
      height: min(44rem, calc(100vh - 7rem)); background: #fff; border-radius: 12px;
      box-shadow: 0 6px 24px #0005; overflow: hidden; z-index: 2147483000; display: flex;
      flex-direction: column; }
    .inline .panel { position: static; width: 100%; height: 40rem; box-shadow: none; }
    .bar { display: flex; justify-content: flex-end; padding: 0.3rem; background: #f5f6f8; }
    button.close { font: 600 0.95rem system-ui, sans-serif; border: 0; border-radius: 8px;
      padding: 0.4rem 0.8rem; background: #e3e7ee; color: #1b1f24; cursor: pointer; }
    iframe { border: 0; width: 100%; flex: 1; }
    @media (max-width: 600px) {
      .panel { inset: 0; width: 100%; height: 100%; border-radius: 0; bottom: 0; }
    }
    [hidden] { display: none !important; }
  `;
  const wrap = document.createElement("div");
  const mount = settings.mount ? document.querySelector(settings.mount) : null;
  wrap.className = mount ? "inline" : "float";
  const button = document.createElement("button");
  button.type = "button";
  button.className = "help";
  button.textContent = settings.label || "Video help";
  button.setAttribute("aria-expanded", "false");
  button.addEventListener("click", () => (state.open ? close() : open()));
  const panel = document.createElement("div");
  panel.className = "panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", settings.label || "Video help");
  const bar = document.createElement("div");
  bar.className = "bar";
  const closeButton = document.createElement("button");
  closeButton.type = "button";
  closeButton.className = "close";
  closeButton.textContent = settings.closeLabel || "Close";
  closeButton.addEventListener("click", () => close());
  bar.append(closeButton);
  panel.append(bar);
  wrap.append(button, panel);
  root.append(style, wrap);
  state.panel = panel;

  function ensureFrame() {
    if (state.frame) return;
    const frame = document.createElement("iframe");
    frame.src = embedUrl();
    frame.title = settings.label || "Video help";
    frame.allow = "camera; microphone; display-capture; fullscreen";
    frame.addEventListener("load", configure);
    state.frame = frame;
    panel.append(frame);
  }

  function open() {
    ensureFrame();
    panel.hidden = false;
    state.open = true;
    button.setAttribute("aria-expanded", "true");
    try { sessionStorage.setItem(OPEN_KEY, "1"); } catch (err) { /* storage blocked */ }
    closeButton.focus();
  }

  function close() {
    panel.hidden = true;
    state.open = false;
    button.setAttribute("aria-expanded", "false");
    try { sessionStorage.removeItem(OPEN_KEY); } catch (err) { /* storage blocked */ }
    button.focus();
  }

  function reset() {
    send({ type: "reset" });
    state.user = null;
    state.context = null;
    close();
    if (state.frame) state.frame.remove();
    state.frame = null;
  }

  // --- messages from the iframe: only from the help server, only from our own frame

  window.addEventListener("message", (event) => {
    if (event.origin !== server || !state.frame || event.source !== state.frame.contentWindow) return;
    const data = event.data;
    if (!data || data.videoassist !== 1 || typeof data.type !== "string") return;
    if (data.type === "state") {
      if (data.state === "waiting" || data.state === "live") {
        try { sessionStorage.setItem(OPEN_KEY, "1"); } catch (err) { /* storage blocked */ }
      } else if (data.state === "ended" || data.state === "start") {
        try { sessionStorage.removeItem(OPEN_KEY); } catch (err) { /* storage blocked */ }
      }
      emit("state", { state: data.state });
    }
  });

  // --- the public API

  const commands = {
    open,
    close,
    reset,
    setUser(token) {
      state.user = typeof token === "string" && token.length <= 4096 ? token : null;
      configure();
    },
    setTopic(topic) {
      state.topic = typeof topic === "string" ? topic.slice(0, 64) : "";
      configure();
    },
    setContext(context) {
      state.context = cleanContext(context);
      configure();
    },
    on(name, fn) {
      if (listeners[name] && typeof fn === "function") listeners[name].push(fn);
    },
  };

  function api(name, ...args) {
    const command = commands[name];
    if (command) return command(...args);
    return undefined;
  }
  const queued = (window.videoassist && window.videoassist.q) || [];
  window.videoassist = Object.assign(api, commands, { loaded: true });

  (mount || document.body).append(host);
  for (const args of queued) api(...args);
  let reopen = false;
  try { reopen = sessionStorage.getItem(OPEN_KEY) === "1"; } catch (err) { reopen = false; }
  if (reopen) open();
  emit("ready", {});
})();
