// The browser half of the demo: join the signaling room given in ?signal=ws://..., answer
// the Python peer's offer, trickle candidates both ways, and chat over its channel.
// Signaling messages are the JSON objects of docs/signaling.md.
"use strict";

const $ = (id) => document.getElementById(id);
const log = (line) => { $("log").textContent += line + "\n"; };
const params = new URLSearchParams(location.search);
const signalUrl = params.get("signal") || `ws://${location.hostname}:8765/demo`;

const ws = new WebSocket(signalUrl);
const pc = new RTCPeerConnection({ iceServers: [] });
let channel = null;
window.demo = { received: [], pc };  // for tests and curious developers

const sendSignal = (message) => ws.send(JSON.stringify(message));

pc.onicecandidate = ({ candidate }) => {
  sendSignal(candidate
    ? { type: "candidate", candidate: candidate.candidate, sdpMid: candidate.sdpMid,
        sdpMLineIndex: candidate.sdpMLineIndex }
    : { type: "candidate", candidate: null, sdpMid: "0", sdpMLineIndex: 0 });
};
pc.onconnectionstatechange = () => { $("connection").textContent = pc.connectionState; };
pc.ondatachannel = ({ channel: incoming }) => {
  channel = incoming;
  $("channel").textContent = `${channel.label} (${channel.readyState})`;
  channel.onopen = () => {
    $("channel").textContent = `${channel.label} (open)`;
    $("send").disabled = false;
  };
  channel.onmessage = ({ data }) => {
    window.demo.received.push(data);
    log(`python: ${data}`);
  };
  channel.onclose = () => { $("channel").textContent = `${channel.label} (closed)`; };
  if (channel.readyState === "open") channel.onopen();
};

ws.onopen = () => { $("signaling").textContent = "joined"; };
ws.onclose = () => { $("signaling").textContent = "closed"; };
// Handle signaling messages one at a time, in order (a candidate must not overtake the
// offer it belongs to while setRemoteDescription is still running).
let pending = Promise.resolve();
ws.onmessage = ({ data }) => {
  pending = pending.then(() => handle(JSON.parse(data)))
    .catch((error) => log(`error: ${error}`));
};

async function handle(message) {
  if (message.type === "offer") {
    await pc.setRemoteDescription({ type: "offer", sdp: message.sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    sendSignal({ type: "answer", sdp: pc.localDescription.sdp });
  } else if (message.type === "candidate") {
    // null (or "") is end-of-candidates; Chromium wants an empty candidate for that.
    await pc.addIceCandidate(message.candidate
      ? { candidate: message.candidate, sdpMid: message.sdpMid ?? "0",
          sdpMLineIndex: message.sdpMLineIndex ?? 0 }
      : { candidate: "", sdpMid: "0", sdpMLineIndex: 0 });
  } else if (message.type === "joined" && message.peers === 0) {
    log("waiting for the Python peer to join…");
  } else if (message.type === "peer-left") {
    log("the Python peer left");
  }
}

$("send").onclick = () => {
  const text = $("text").value;
  channel.send(text);
  log(`me: ${text}`);
};
